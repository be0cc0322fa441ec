import FolioSimModel

/// The states a stateful search has explored (`DPOR` with a cache), by their 64-bit hash
/// (`StateHasher`): SPIN's hash compaction, where two distinct states with one hash would
/// lose the second one's successors (with n states the chance of any such collision is
/// about n²/2⁶⁵: 3·10⁻⁸ for a million). The exact mode keeps every state in full and stops
/// the program on a collision, and checks at every state that the incrementally kept hash
/// equals one computed from scratch (a write that escaped the access log would break the
/// cache); either failure ends the search with `failure` set. Tests use it.
///
/// Under a preemption bound a state is explored again when reached with fewer preemptions
/// than before (its successors may then use more), and the thread of the last step is part of
/// the key: continuing it is free, switching costs a preemption.
final class StateCache {
    typealias Mode = StateCacheMode
    /// What the visited set keeps of a state.
    struct Entry {
        /// The fewest preemptions it was explored with (0 unbounded).
        var preemptions: Int32
        /// The threads asleep when it was explored (sleep sets, unbounded DPOR).
        var sleep: ThreadSet
        /// The events of its explored subtree; nil while the state is on the search stack.
        var summary: EventSummary?
    }
    enum Visit {
        /// Explore it; `key` names it for `finish`.
        case new(key: UInt64)
        /// Explored already; its subtree's events.
        case matched(EventSummary)
    }

    let mode: Mode
    let bounded: Bool
    private var visited: [UInt64: Entry] = [:]
    private var full: [UInt64: [UInt64]] = [:]
    private(set) var matched = 0
    /// Why exact mode stopped the search (nil: it did not).
    private(set) var failure: String?
    var transitions = 0
    var maxDepth = 0
    private var summaryEvents = 0

    init(mode: Mode, bounded: Bool) {
        self.mode = mode
        self.bounded = bounded
    }

    var states: Int { visited.count }

    /// Bytes the visited set holds: dictionary slots at their load factor, the subtree
    /// summaries, and the full states in exact mode.
    var memoryBytes: Int {
        var b = visited.capacity * (8 + MemoryLayout<Entry>.stride + 1) + summaryEvents * 16
        for (_, v) in full { b += 48 + v.count * 8 }
        return b
    }

    /// The state `ex` is in before its next choice (`last`: the previous step's thread;
    /// `sleep`: the threads asleep there). Matched when explored already with no more
    /// preemptions, the same last thread (under a bound) and no thread asleep now that was
    /// awake then (Godefroid's condition for sleep sets with state matching), and finished
    /// (`finish`: its subtree is explored).
    func visit(_ ex: Execution, preemptions: Int, last: Int, sleep: ThreadSet = ThreadSet()) -> Visit? {
        let h = ex.stateHash()
        let key = bounded ? h ^ StateFold.mix(UInt64(bitPattern: Int64(last)) &+ 0xB0B) : h
        let pre = Int32(bounded ? preemptions : 0)
        if mode == .exact { checkExact(ex, key) }
        if failure != nil { return nil }
        if let e = visited[key], let summary = e.summary, e.preemptions <= pre, e.sleep.subtracting(sleep).isEmpty {
            matched += 1
            return .matched(summary)
        }
        if visited[key] == nil { visited[key] = Entry(preemptions: pre, sleep: sleep, summary: nil) }
        return .new(key: key)
    }

    /// A state's subtree is explored: it may be matched from now on. Explored before with
    /// fewer preemptions, the old entry stands; with as many, the threads explored add up.
    func finish(_ key: UInt64, preemptions: Int32, sleep: ThreadSet, summary: EventSummary) {
        summaryEvents += summary.count
        guard var e = visited[key], let old = e.summary else {
            visited[key] = Entry(preemptions: preemptions, sleep: sleep, summary: summary)
            return
        }
        if preemptions < e.preemptions {
            var merged = summary
            merged.formUnion(old)
            e = Entry(preemptions: preemptions, sleep: sleep, summary: merged)
        } else if preemptions == e.preemptions {
            e.sleep = ThreadSet(bits: e.sleep.bits & sleep.bits)
            var merged = old
            merged.formUnion(summary)
            e.summary = merged
        }
        visited[key] = e
    }

    private func checkExact(_ ex: Execution, _ key: UInt64) {
        guard failure == nil else { return }
        let hasher = ex.hasher!
        let fresh = hasher.freshObjectHashes()
        if fresh.values.reduce(0, &+) != hasher.modelHash {
            failure = "the incremental model hash differs from one computed afresh after \(ex.choices.count) steps (a write escaped the access log): \(hasher.staleObjects(fresh).prefix(5).joined(separator: ", "))"
            return
        }
        let state = fresh.values.sorted() + [ex.stateHash() &- hasher.modelHash]
        if let old = full[key] {
            if old != state { failure = "two distinct states share the hash \(String(key, radix: 16))" }
        } else {
            full[key] = state
        }
    }
}
