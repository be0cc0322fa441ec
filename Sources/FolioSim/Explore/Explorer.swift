/// A violation found by the explorer: the invariant, the shrunk schedule that reaches it and
/// the trace of that schedule, one line per step.
public struct Counterexample: Sendable, Equatable {
    public var invariant: String
    public var detail: String
    public var schedule: String
    public var preemptions: Int
    public var steps: Int
    public var trace: [String]
}

/// What an exploration found.
public struct ExploreResult: Sendable {
    /// Interleavings explored to their end (or to a violation).
    public var schedules: Int { runs - pruned }
    /// Runs started: `schedules` plus those cut short.
    public var runs = 0
    /// Runs that the sleep sets or the preemption bound cut short: the rest of such a run
    /// only reorders independent steps of an interleaving explored already (or needs one
    /// preemption too many).
    public var pruned = 0
    /// Scheduling points executed over all schedules.
    public var points = 0
    /// Distinct end states of the schedules that completed.
    public var endStates = 0
    /// False when `maxSchedules` stopped the search early.
    public var complete = true
    public var counterexample: Counterexample?
    /// Schedules run while shrinking the counterexample (not in `schedules`).
    public var shrinkSchedules = 0
    /// A schedule that ran past `maxSteps`.
    public var tooLong: String?
}

/// The outcome of one run under one schedule.
struct RunOutcome {
    var choices: [Int] = []
    var ending: Execution.Ending = .completed
    var violation: Violation?
    var trace: [String] = []
    var endState: UInt64?
    var preemptions = 0
    /// The last step whose thread differs from what a non-preemptive run would pick (-1: none).
    var lastNonDefault = -1
    var steps: Int { choices.count }
}

/// The interleaving explorer: runs a config's threads under a strategy (scripted, DFS with a
/// preemption bound and sleep-set reduction, random, PCT), checks invariants at every step,
/// and shrinks the first violation to the fewest preemptions, then the fewest steps.
public enum Explorer {
    typealias Chooser = Execution.Chooser
    typealias Observer = Execution.Observer

    /// Runs one schedule.
    static func runOnce(_ snapshot: Snapshot, tracing: Bool, maxSteps: Int,
                        choose: @escaping Chooser, observe: Observer? = nil) async -> RunOutcome {
        var out = RunOutcome()
        if let v = snapshot.setupViolation {
            out.ending = .violation
            out.violation = v
            out.trace = ["(the config's steps already break \(v.invariant))"]
            return out
        }
        let ex = Execution(snapshot, tracing: tracing, maxSteps: maxSteps, choose: choose, observe: observe)
        out.ending = await ex.run()
        if out.ending == .completed { out.endState = ex.world.endStateDigest() }
        out.preemptions = ex.preemptions
        out.lastNonDefault = ex.lastNonDefault
        out.choices = ex.choices
        out.violation = ex.world.violations.first
        out.trace = ex.trace
        if let v = out.violation, tracing { out.trace.append("violation \(v)") }
        return out
    }

    /// The thread a non-preemptive run picks: the last one while it can run, else the first
    /// runnable one.
    static func defaultChoice(_ ex: Execution, _ enabled: ThreadSet) -> Int {
        if enabled.contains(ex.current) { return ex.current }
        return enabled.first!
    }

    /// Explores `scenario` with its `explore` options (or `options`), reporting progress
    /// (schedules, points) every 1024 schedules.
    public static func explore(_ scenario: Scenario, options: ExploreOptions? = nil,
                               progress: ((Int, Int) -> Void)? = nil) async -> ExploreResult {
        let opts = options ?? scenario.explore ?? ExploreOptions()
        let snapshot = await Snapshot.make(scenario)
        var result = ExploreResult()
        var found: RunOutcome?
        var ends = Set<UInt64>()
        func account(_ o: RunOutcome) -> Bool {
            result.runs += 1
            result.points += o.steps
            if o.ending == .pruned { result.pruned += 1 }
            if let e = o.endState { ends.insert(e) }
            if o.ending == .tooLong && result.tooLong == nil { result.tooLong = schedule(o.choices, scenario).description }
            if result.runs & 1023 == 0 { progress?(result.runs, result.points) }
            if o.ending == .violation { found = o; return false }
            if result.runs >= opts.maxSchedules { result.complete = false; return false }
            return true
        }
        switch opts.strategy {
        case .scripted(let text):
            let names = scenario.threads.map(\.name)
            let sched = (try? Schedule.parse(text, threads: names)) ?? Schedule(steps: [])
            _ = account(await runScripted(snapshot, sched, tracing: false, maxSteps: opts.maxSteps).outcome)
        case .dfs(let bound, let reduction):
            let dfs = DFS(bound: bound, reduction: reduction, threads: scenario.threads.count)
            while true {
                let o = await dfs.run(snapshot, maxSteps: opts.maxSteps)
                if !account(o) { break }
                if !dfs.backtrack() { break }
            }
        case .random(let seed, let count):
            var rng = SplitMix64(seed: seed)
            for _ in 0..<count {
                let o = await runOnce(snapshot, tracing: false, maxSteps: opts.maxSteps) { _, en, _ in
                    en.member(at: Int(rng.next() % UInt64(en.count)))
                }
                if !account(o) { break }
            }
        case .pct(let seed, let depth, let count):
            var rng = SplitMix64(seed: seed)
            let probe = await runOnce(snapshot, tracing: false, maxSteps: opts.maxSteps) { ex, en, _ in defaultChoice(ex, en) }
            let k = max(1, probe.steps)
            for _ in 0..<count {
                var pct = PCT(threads: scenario.threads.count, depth: depth, steps: k, rng: &rng)
                let o = await runOnce(snapshot, tracing: false, maxSteps: opts.maxSteps) { ex, en, step in
                    pct.choose(en, step: step, last: ex.current)
                }
                if !account(o) { break }
            }
        }
        result.endStates = ends.count
        if let f = found {
            let (cx, spent) = await shrink(snapshot, f, maxSteps: opts.maxSteps)
            result.counterexample = cx
            result.shrinkSchedules = spent
        }
        return result
    }

    /// Shrinks a violating run: a DFS at each preemption bound below the run's finds a run
    /// with the same invariant and the fewest preemptions; among the runs the DFS finds at
    /// that bound (up to a budget) the one with the fewest steps is kept. Then the kept run
    /// is replayed with tracing to produce the counterexample.
    static func shrink(_ snapshot: Snapshot, _ found: RunOutcome, maxSteps: Int) async -> (Counterexample, Int) {
        let scenario = snapshot.scenario
        let inv = found.violation?.invariant ?? ""
        var best = found
        var spent = 0
        if best.preemptions > 0 || best.steps > 0 {
            outer: for bound in 0...best.preemptions {
                let dfs = DFS(bound: bound, reduction: true, threads: scenario.threads.count)
                var budget = bound == best.preemptions ? 2_000 : 20_000
                var hit: RunOutcome?
                while budget > 0 {
                    let o = await dfs.run(snapshot, maxSteps: maxSteps)
                    spent += 1
                    budget -= 1
                    if o.ending == .violation, o.violation?.invariant == inv {
                        if hit == nil || o.steps < hit!.steps { hit = o }
                        if hit != nil && budget > 500 { budget = 500 }
                    }
                    if !dfs.backtrack() { break }
                }
                if let h = hit, h.preemptions < best.preemptions || (h.preemptions == best.preemptions && h.steps < best.steps) {
                    best = h
                }
                if hit != nil { break outer }
            }
        }
        let sched = schedule(best.choices.prefix(best.lastNonDefault + 1), scenario)
        let traced = await runScripted(snapshot, sched, tracing: true, maxSteps: maxSteps).outcome
        let v = traced.violation
        return (Counterexample(invariant: v?.invariant ?? inv, detail: v?.description ?? "", schedule: sched.description,
                               preemptions: traced.preemptions, steps: traced.steps, trace: traced.trace), spent)
    }

    /// The schedule of a run's thread choices.
    static func schedule<C: Collection<Int>>(_ choices: C, _ scenario: Scenario) -> Schedule {
        let names = scenario.threads.map(\.name)
        return Schedule(steps: choices.map { names[$0] })
    }

    /// Runs one scripted schedule; an error when a step names a thread that cannot run.
    static func runScripted(_ snapshot: Snapshot, _ schedule: Schedule, tracing: Bool, maxSteps: Int) async
        -> (outcome: RunOutcome, error: String?) {
        let names = snapshot.scenario.threads.map(\.name)
        var error: String?
        let o = await runOnce(snapshot, tracing: tracing, maxSteps: maxSteps) { ex, en, step in
            guard step < schedule.steps.count else { return defaultChoice(ex, en) }
            let want = names.firstIndex(of: schedule.steps[step])!
            guard en.contains(want) else {
                error = "schedule step \(step + 1): thread \(schedule.steps[step]) cannot run there (runnable: \(en.map { names[$0] }.joined(separator: ", ")))"
                return nil
            }
            return want
        }
        return (o, error)
    }

    /// `foliosim replay`: runs `schedule` with tracing.
    public static func replay(_ scenario: Scenario, schedule text: String) async throws(ScheduleError) -> ReplayResult {
        let sched = try Schedule.parse(text, threads: scenario.threads.map(\.name))
        let maxSteps = scenario.explore?.maxSteps ?? ExploreOptions().maxSteps
        let (o, err) = await runScripted(await Snapshot.make(scenario), sched, tracing: true, maxSteps: maxSteps)
        if let err { throw ScheduleError(message: err) }
        return ReplayResult(schedule: sched.description, violation: o.violation, trace: o.trace, steps: o.steps,
                            preemptions: o.preemptions, tooLong: o.ending == .tooLong)
    }
}

/// What `foliosim replay` prints.
public struct ReplayResult: Sendable {
    public var schedule: String
    public var violation: Violation?
    public var trace: [String]
    public var steps: Int
    public var preemptions: Int
    public var tooLong: Bool
}

/// Stateless depth-first search over schedules with a preemption bound (CHESS) and sleep
/// sets (Godefroid): after a thread's step has been explored at a node, later siblings do
/// not run it again until a conflicting step has happened, because only the order of
/// independent steps would differ.
///
/// A class so that the run's chooser and observer update the stack in place. The footprints
/// live in flat arrays indexed by `depth * threads + thread`, so a node holds no references
/// and the per-step bookkeeping copies nothing.
final class DFS {
    struct Node {
        var enabled: ThreadSet
        var chosen: Int
        /// Alternatives explored here (their footprints are in `doneFootprints`).
        var done: ThreadSet
        /// The sleep set on entry (the threads' next-step footprints are in `sleepFootprints`).
        var sleep: ThreadSet
        var preemptionsBefore: Int
        /// The thread of the previous step (-1 at the root).
        var last: Int
        var isPreemption: Bool { enabled.contains(last) && chosen != last }
    }
    let bound: Int?
    let reduction: Bool
    let threads: Int
    var stack: [Node] = []
    private var doneFootprints: [Footprint?] = []
    private var sleepFootprints: [Footprint?] = []
    /// The sleep set carried into the next node of the current run, with footprints by thread.
    private var carried = ThreadSet()
    private var carriedFootprints: [Footprint?]

    init(bound: Int?, reduction: Bool, threads: Int) {
        self.bound = bound
        self.reduction = reduction
        self.threads = threads
        carriedFootprints = Array(repeating: nil, count: threads)
    }

    /// Runs the schedule the stack describes, extending it with first choices.
    func run(_ snapshot: Snapshot, maxSteps: Int) async -> RunOutcome {
        carried = ThreadSet()
        return await Explorer.runOnce(snapshot, tracing: false, maxSteps: maxSteps,
                                      choose: { _, en, d in self.choose(en, depth: d) },
                                      observe: { d, c, log in self.observe(depth: d, thread: c, log: log) })
    }

    private func choose(_ en: ThreadSet, depth d: Int) -> Int? {
        if d < stack.count { return stack[d].chosen }
        let last = d == 0 ? -1 : stack[d - 1].chosen
        let pre = d == 0 ? 0 : stack[d - 1].preemptionsBefore + (stack[d - 1].isPreemption ? 1 : 0)
        let lastEnabled = en.contains(last)
        var pick: Int?
        if lastEnabled && !carried.contains(last) {
            pick = last
        } else if !lastEnabled || bound.map({ pre + 1 <= $0 }) ?? true {
            pick = en.subtracting(carried).first
        }
        guard let c = pick else { return nil }
        let base = d * threads
        if doneFootprints.count < base + threads {
            doneFootprints.append(contentsOf: repeatElement(nil, count: base + threads - doneFootprints.count))
            sleepFootprints.append(contentsOf: repeatElement(nil, count: base + threads - sleepFootprints.count))
        }
        for t in 0..<threads {
            doneFootprints[base + t] = nil
            sleepFootprints[base + t] = carried.contains(t) ? carriedFootprints[t] : nil
        }
        var done = ThreadSet()
        done.insert(c)
        stack.append(Node(enabled: en, chosen: c, done: done, sleep: carried, preemptionsBefore: pre, last: last))
        return c
    }

    /// Records the footprint of the step just taken at the newest node and the sleep set
    /// it leaves for the next one. Steps of the replayed prefix are skipped: their
    /// footprints are recorded already and their sleep sets are not needed again.
    private func observe(depth d: Int, thread c: Int, log: AccessLog) {
        guard d == stack.count - 1 else { return }
        let base = d * threads
        let f = log.footprint()
        doneFootprints[base + c] = f
        guard reduction else { return }
        var next = ThreadSet()
        for t in stack[d].sleep where t != c {
            let tf = sleepFootprints[base + t]!
            if !tf.conflicts(with: f) { next.insert(t); carriedFootprints[t] = tf }
        }
        for t in stack[d].done where t != c && !next.contains(t) {
            if let tf = doneFootprints[base + t], !tf.conflicts(with: f) { next.insert(t); carriedFootprints[t] = tf }
        }
        carried = next
    }

    /// Moves to the next unexplored schedule; false when the search is complete.
    func backtrack() -> Bool {
        while let node = stack.last {
            let d = stack.count - 1
            let asleep = reduction ? node.sleep : ThreadSet()
            let lastEnabled = node.enabled.contains(node.last)
            for c in node.enabled.subtracting(node.done).subtracting(asleep) {
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
