import FolioSimModel

/// Plain depth-first search over every schedule with at most `bound` preemptions (CHESS),
/// without reduction: the reference the reduction is tested against (`--no-reduction`), and
/// the shrinker's search.
///
/// A class so that the run's chooser updates the stack in place.
final class PlainDFS {
    struct Node {
        var enabled: ThreadSet
        var chosen: Int
        var done: ThreadSet
        var preemptionsBefore: Int
        /// The thread of the previous step (-1 at the root).
        var last: Int
        var isPreemption: Bool { enabled.contains(last) && chosen != last }
    }
    let bound: Int?
    var stack: [Node] = []
    /// The thread every run starts with (`--jobs`: one subtree of the root), or nil.
    let rootChoice: Int?

    init(bound: Int?, rootChoice: Int? = nil) {
        self.bound = bound
        self.rootChoice = rootChoice
    }

    /// Runs the schedule the stack describes, extending it with first choices.
    func run(_ snapshot: Snapshot, maxSteps: Int, ignored: Set<String> = []) async -> RunOutcome {
        await Explorer.runOnce(snapshot, tracing: false, maxSteps: maxSteps, ignored: ignored,
                               choose: { _, en, d in self.choose(en, depth: d) })
    }

    private func choose(_ en: ThreadSet, depth d: Int) -> Int? {
        if d < stack.count { return stack[d].chosen }
        let last = d == 0 ? -1 : stack[d - 1].chosen
        let pre = d == 0 ? 0 : stack[d - 1].preemptionsBefore + (stack[d - 1].isPreemption ? 1 : 0)
        let c: Int
        if d == 0, let r = rootChoice {
            guard en.contains(r) else { return nil }
            c = r
        } else {
            c = en.contains(last) ? last : en.first!
        }
        var done = ThreadSet()
        done.insert(c)
        stack.append(Node(enabled: en, chosen: c, done: done, preemptionsBefore: pre, last: last))
        return c
    }

    /// Moves to the next unexplored schedule; false when the search is complete.
    func backtrack() -> Bool {
        while let node = stack.last {
            let d = stack.count - 1
            let lastEnabled = node.enabled.contains(node.last)
            for c in node.enabled.subtracting(node.done) where d > 0 || rootChoice == nil {
                let isPre = lastEnabled && c != node.last
                if isPre, let b = bound, node.preemptionsBefore + 1 > b { continue }
                stack[d].chosen = c
                stack[d].done.insert(c)
                return true
            }
            stack.removeLast()
        }
        return false
    }
}

/// Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): distinct random
/// thread priorities, `depth - 1` random steps at which the running thread drops to the
/// lowest priority; each step runs the highest-priority runnable thread.
struct PCT {
    var priority: [Int]
    var changeAt: [Int: Int] = [:]
    init(threads n: Int, depth: Int, steps k: Int, rng: inout SplitMix64) {
        var p = Array(0..<n).map { $0 + depth }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            p.swapAt(i, j)
        }
        priority = p
        for j in 1..<max(1, depth) {
            let at = Int(rng.next() % UInt64(k))
            if changeAt[at] == nil { changeAt[at] = depth - j }
        }
    }
    mutating func choose(_ enabled: ThreadSet, step: Int, last: Int) -> Int {
        if let newPriority = changeAt[step], last >= 0 { priority[last] = newPriority }
        var best = enabled.first!
        for t in enabled where priority[t] > priority[best] { best = t }
        return best
    }
}

/// SplitMix64: a small seeded generator, so schedules depend only on the seed.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
