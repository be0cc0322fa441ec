import FolioSimModel

/// A violation found by the explorer: the invariant, where it fired, the shrunk schedule
/// that reaches it and the trace of that schedule, one line per step.
package struct Counterexample: Sendable, Equatable {
    package var invariant: String
    /// The kernel function of the step after which it was found ("at rest" for the checks
    /// between operations, "after" for the end of the run).
    package var function: String
    package var detail: String
    package var schedule: String
    package var preemptions: Int
    package var steps: Int
    package var trace: [String]
}

/// One distinct outcome of an exploration: what the `after` steps observed, how many
/// schedules ended with it, and the one with the fewest preemptions.
package struct OutcomeGroup: Sendable, Equatable {
    package var observed: [Observation]
    package var schedules: Int
    package var schedule: String
    package var preemptions: Int
}

/// What an exploration found.
public struct ExploreResult: Sendable {
    package init() {}
    /// Interleavings explored to their end (or to a violation).
    package var schedules: Int { runs - pruned }
    /// Runs started: `schedules` plus those cut short.
    package var runs = 0
    /// Runs the reduction cut short (every runnable thread asleep).
    package var pruned = 0
    /// Scheduling points executed over all schedules.
    package var points = 0
    /// Distinct end states of the schedules that completed.
    package var endStates = 0
    /// Their digests, sorted (`World.endStateDigest`: what user space can observe).
    package var endStateDigests: [UInt64] = []
    /// False when `maxSchedules` stopped the search early.
    package var complete = true
    /// Every schedule within the bound ran to its end: a DFS that `maxSchedules` did not
    /// stop and that did not stop at a violation (unless `all`). Only then are the outcomes
    /// all the outcomes there are.
    package var exhaustive = false
    /// The first violation (shrunk), if any.
    package var counterexample: Counterexample? { violations.first }
    /// Every distinct violation (invariant, kernel function, process and address), each
    /// shrunk: only the first unless `all` was asked for.
    package var violations: [Counterexample] = []
    /// The distinct outcomes of the schedules that completed, in a fixed order.
    package var outcomes: [OutcomeGroup] = []
    /// Schedules run while shrinking (not in `schedules`).
    package var shrinkSchedules = 0
    /// The shrinker stopped at its budget before searching every bound.
    package var shrinkBudgetSpent = false
    /// A schedule that ran past `maxSteps`.
    package var tooLong: String?
    /// What the state cache did (nil: the search kept none).
    package var cache: CacheStats?
    /// Distinct states (by `StateHasher`'s hash) that `random` or `pct` passed through,
    /// at every scheduling choice and at the end: how much of the state space their
    /// schedules covered (nil for the other strategies). Beside `endStates`.
    package var distinctStates: Int?
    /// The dfs was split at its first step (`--jobs`, or a merge of `--shard` files).
    package var split = false
}

/// A stateful search's figures, as SPIN prints them.
package struct CacheStats: Sendable, Equatable {
    /// Distinct states stored (with the last thread, under a bound).
    package var states: Int
    /// Runs stopped at a state explored already.
    package var matched: Int
    /// Steps taken from a state for the first time (replayed steps not counted).
    package var transitions: Int
    /// The longest schedule explored.
    package var maxDepth: Int
    /// Bytes the visited set holds.
    package var memoryBytes: Int
    /// Why the exact mode stopped the search, if it did.
    package var failure: String?
    package init(states: Int, matched: Int, transitions: Int, maxDepth: Int, memoryBytes: Int, failure: String?) {
        self.states = states; self.matched = matched; self.transitions = transitions; self.maxDepth = maxDepth; self.memoryBytes = memoryBytes; self.failure = failure
    }
}

/// The outcome of one run under one schedule.
struct RunOutcome {
    var choices: [Int] = []
    var ending: Execution.Ending = .completed
    var violation: Violation?
    /// The kernel function of the step after which the violation was found.
    var violationFunction = ""
    var trace: [String] = []
    var endState: UInt64?
    var observed: [Observation] = []
    var preemptions = 0
    /// The state hash when the threads were done (runs with a state hasher).
    var stateHash: UInt64?
    /// The last step whose thread differs from what a non-preemptive run would pick (-1: none).
    var lastNonDefault = -1
    var steps: Int { choices.count }
    /// What distinguishes one violation from another.
    var violationKey: String? {
        violation.map { "\($0.invariant)|\(violationFunction)|\($0.process)|\($0.address.map { String($0, radix: 16) } ?? "-")" }
    }
}

/// The interleaving explorer: runs a config's threads under a strategy (scripted, DFS with
/// dynamic partial-order reduction and an optional preemption bound, plain DFS, random,
/// PCT), checks invariants at every step, groups the schedules that complete by outcome, and
/// shrinks each violation to the fewest preemptions, then the fewest steps.
public enum Explorer {
    typealias Chooser = Execution.Chooser
    typealias Observer = Execution.Observer

    /// Runs one schedule.
    static func runOnce(_ snapshot: Snapshot, tracing: Bool, maxSteps: Int, ignored: Set<String> = [], hashing: Bool = false,
                        replayed: Int = 0, choose: @escaping Chooser, observe: Observer? = nil,
                        inspect: ((Execution, Int) -> Void)? = nil) async -> RunOutcome {
        var out = RunOutcome()
        if let v = snapshot.setupViolation {
            out.ending = .violation
            out.violation = v
            out.violationFunction = "steps"
            out.trace = ["(the config's steps already break \(v.invariant))"]
            return out
        }
        let ex = Execution(snapshot, tracing: tracing, maxSteps: maxSteps, ignored: ignored, choose: choose, observe: observe)
        ex.inspector = inspect
        ex.replayed = replayed
        if hashing { ex.hasher = StateHasher(world: ex.world, base: snapshot.stateBase, threads: ex.threads.count) }
        out.ending = await ex.run()
        if out.ending == .completed {
            out.endState = ex.world.endStateDigest()
            out.observed = ex.observed
        }
        out.preemptions = ex.preemptions
        out.stateHash = ex.finalStateHash
        out.lastNonDefault = ex.lastNonDefault
        out.choices = ex.choices
        out.violation = ex.world.violations.first
        out.violationFunction = ex.violationFunction
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
    /// (runs, points) every 1024 runs. A scripted schedule that cannot run is an error.
    public static func explore(_ program: any ExplorableProgram, options: ExploreOptions? = nil,
                               progress: ((Int, Int) -> Void)? = nil) async throws(ScheduleError) -> ExploreResult {
        let opts = options ?? program.explore ?? ExploreOptions()
        let snapshot = await Snapshot.make(program)
        var acc = Accumulator(program: program, opts: opts, progress: progress)
        let ignored = Set(opts.ignore)
        switch opts.strategy {
        case .scripted(let text):
            let sched = try Schedule.parse(text, threads: program.threadNames)
            let (o, err) = await runScripted(snapshot, sched, tracing: false, maxSteps: opts.maxSteps, ignored: ignored)
            if let err { throw ScheduleError(message: err) }
            _ = acc.account(o)
        case .dfs where opts.jobs != nil:
            acc = await exploreSplit(program, opts, jobs: opts.jobs!, progress: progress)
            acc.result.split = true
        case .dfs:
            await searchDFS(snapshot, opts, rootChoice: nil, into: &acc)
        case .random(let seed, let count):
            var rng = SplitMix64(seed: seed)
            var seen = Set<UInt64>()
            for _ in 0..<count {
                let o = await coverageRun(snapshot, opts, &seen) { _, en, _ in en.member(at: Int(rng.next() % UInt64(en.count))) }
                if !acc.account(o) { break }
            }
            acc.result.distinctStates = seen.count
        case .pct(let seed, let depth, let count):
            var rng = SplitMix64(seed: seed)
            let probe = await runOnce(snapshot, tracing: false, maxSteps: opts.maxSteps, ignored: ignored) { ex, en, _ in defaultChoice(ex, en) }
            let k = max(1, probe.steps)
            var seen = Set<UInt64>()
            for _ in 0..<count {
                var pct = PCT(threads: program.threadNames.count, depth: depth, steps: k, rng: &rng)
                let o = await coverageRun(snapshot, opts, &seen) { ex, en, step in pct.choose(en, step: step, last: ex.current) }
                if !acc.account(o) { break }
            }
            acc.result.distinctStates = seen.count
        }
        return await result(of: acc, snapshot, opts)
    }

    /// One run of `random` or `pct` that adds every state it passes through (at each choice
    /// and at the end) to `seen`, their coverage.
    private static func coverageRun(_ snapshot: Snapshot, _ opts: ExploreOptions, _ seen: inout Set<UInt64>,
                                    choose: @escaping Chooser) async -> RunOutcome {
        var states = Set<UInt64>()
        let o = await runOnce(snapshot, tracing: false, maxSteps: opts.maxSteps, ignored: Set(opts.ignore), hashing: true) { ex, en, step in
            states.insert(ex.stateHash())
            return choose(ex, en, step)
        }
        if let h = o.stateHash { states.insert(h) }
        seen.formUnion(states)
        return o
    }

    /// The result of the runs `acc` added up: outcomes in a fixed order, end states, and each
    /// violation found shrunk.
    static func result(of acc: Accumulator, _ snapshot: Snapshot, _ opts: ExploreOptions) async -> ExploreResult {
        var result = acc.result
        if case .dfs = opts.strategy { result.exhaustive = result.complete && (acc.found.isEmpty || opts.all) }
        result.outcomes = acc.outcomeGroups()
        result.endStateDigests = acc.ends.sorted()
        var budget = opts.shrinkBudget
        for found in acc.found {
            let (cx, spent, exhausted) = await shrink(snapshot, found, sameKey: opts.all, maxSteps: opts.maxSteps, budget: budget,
                                                      ignored: Set(opts.ignore))
            result.violations.append(cx)
            result.shrinkSchedules += spent
            budget = max(0, budget - spent)
            if exhausted { result.shrinkBudgetSpent = true }
        }
        return result
    }

    /// One depth-first search (reduced, with or without a state cache, or plain), of the
    /// whole tree or of the subtree whose first step is `rootChoice`'s, with `rootSleep`
    /// asleep at the root (DPOR with sleep sets only).
    static func searchDFS(_ snapshot: Snapshot, _ opts: ExploreOptions, rootChoice: Int?,
                          rootSleep: [(thread: Int, footprint: Footprint)] = [], into acc: inout Accumulator) async {
        guard case .dfs(let bound, let reduction) = opts.strategy else { return }
        let ignored = Set(opts.ignore)
        if reduction {
            let cache = opts.effectiveStateCache.map { StateCache(mode: $0, bounded: bound != nil) }
            let dpor = DPOR(bound: bound, threads: snapshot.threadNames.count, cache: cache, rootChoice: rootChoice,
                            rootSleep: rootSleep)
            while true {
                let o = await dpor.run(snapshot, maxSteps: opts.maxSteps, ignored: ignored)
                if !acc.account(o) || cache?.failure != nil || !dpor.backtrack() { break }
            }
            if let cache {
                acc.result.cache = CacheStats(states: cache.states, matched: cache.matched, transitions: cache.transitions,
                                              maxDepth: cache.maxDepth, memoryBytes: cache.memoryBytes, failure: cache.failure)
                if cache.failure != nil { acc.result.complete = false }
            }
        } else {
            let dfs = PlainDFS(bound: bound, rootChoice: rootChoice)
            while true {
                let o = await dfs.run(snapshot, maxSteps: opts.maxSteps, ignored: ignored)
                if !acc.account(o) || !dfs.backtrack() { break }
            }
        }
    }

    /// `--jobs N`: the search split at its root, one subtree per thread that can take the
    /// first step, each a search of its own (its own state cache, at most `maxSchedules`
    /// runs), `jobs` of them at a time; their results are added up in thread order. What is
    /// printed depends on the split, never on `jobs` or on which subtree finished first, so
    /// every N prints the same.
    ///
    /// Unbounded, the subtrees are those of a sequential search with sleep sets (Godefroid):
    /// the subtree of thread k starts with every earlier thread j asleep whose first step is
    /// independent of k's, because j's subtree (searched by another job, completely) covers
    /// the schedules in which j's first step comes first. The subtrees share no visited set,
    /// so a state two of them reach is explored in each (more runs than one search).
    static func exploreSplit(_ program: any ExplorableProgram, _ opts: ExploreOptions, jobs: Int,
                             progress: ((Int, Int) -> Void)?) async -> Accumulator {
        let parts = await searchSubtrees(program, opts, roots: Array(program.threadNames.indices), jobs: jobs)
        var total = Accumulator(program: program, opts: opts, progress: progress)
        for p in parts { total.merge(p) }
        return total
    }

    /// The searches of the root subtrees whose first step is a step of a thread in `roots`,
    /// `jobs` at a time, in the order of `roots`.
    static func searchSubtrees(_ program: any ExplorableProgram, _ opts: ExploreOptions, roots: [Int], jobs: Int) async -> [Accumulator] {
        let first = await firstStepFootprints(await Snapshot.make(program), opts)
        return await withTaskGroup(of: (Int, Accumulator).self) { group in
            var out = [Accumulator?](repeating: nil, count: roots.count)
            var next = 0
            func start(_ k: Int) {
                let t = roots[k]
                var asleep: [(thread: Int, footprint: Footprint)] = []
                if let mine = first[t] {
                    for j in 0..<t { if let f = first[j], !f.conflicts(with: mine) { asleep.append((j, f)) } }
                }
                group.addTask { [asleep] in
                    var acc = Accumulator(program: program, opts: opts, progress: nil)
                    await searchDFS(await Snapshot.make(program), opts, rootChoice: t, rootSleep: asleep, into: &acc)
                    return (k, acc)
                }
            }
            while next < min(max(1, jobs), roots.count) { start(next); next += 1 }
            for await (k, acc) in group {
                out[k] = acc
                if next < roots.count { start(next); next += 1 }
            }
            return out.map { $0! }
        }
    }

    /// The footprint of each thread's first step from the config's state (nil: the thread
    /// cannot take the first step), each from a run stopped after that step.
    static func firstStepFootprints(_ snapshot: Snapshot, _ opts: ExploreOptions) async -> [Footprint?] {
        var out: [Footprint?] = []
        for t in snapshot.threadNames.indices {
            var f: Footprint?
            _ = await runOnce(snapshot, tracing: false, maxSteps: opts.maxSteps, ignored: Set(opts.ignore),
                              choose: { _, en, d in d == 0 && en.contains(t) ? t : nil },
                              observe: { d, _, log in if d == 0 { f = log.footprint() } })
            out.append(f)
        }
        return out
    }

    /// What the runs of an exploration add up to. Sendable by hand: only `progress` is not,
    /// and the subtrees' accumulators that cross tasks (`exploreSplit`) have none.
    struct Accumulator: @unchecked Sendable {
        let program: any ExplorableProgram
        let opts: ExploreOptions
        let progress: ((Int, Int) -> Void)?
        var result = ExploreResult()
        var ends = Set<UInt64>()
        /// The first run of each distinct violation, in the order found.
        var found: [RunOutcome] = []
        var foundKeys = Set<String>()
        /// Outcomes by their rendering: count and the best run.
        var outcomes: [String: (observed: [Observation], count: Int, best: RunOutcome)] = [:]

        init(program: any ExplorableProgram, opts: ExploreOptions, progress: ((Int, Int) -> Void)?) {
            self.program = program
            self.opts = opts
            self.progress = progress
        }

        /// Adds one run; false when the exploration stops.
        mutating func account(_ o: RunOutcome) -> Bool {
            result.runs += 1
            result.points += o.steps
            if o.ending == .pruned { result.pruned += 1 }
            if let e = o.endState { ends.insert(e) }
            result.endStates = ends.count
            if o.ending == .tooLong && result.tooLong == nil { result.tooLong = schedule(o.choices, program).description }
            if o.ending == .completed { addOutcome(o) }
            if result.runs & 1023 == 0 { progress?(result.runs, result.points) }
            if o.ending == .violation, let key = o.violationKey, foundKeys.insert(key).inserted {
                found.append(o)
                if !opts.all { return false }
            }
            if result.runs >= opts.maxSchedules { result.complete = false; return false }
            return true
        }

        /// Adds the runs of another search (a subtree of `exploreSplit`), after this one's.
        mutating func merge(_ o: Accumulator) {
            result.runs += o.result.runs
            result.pruned += o.result.pruned
            result.points += o.result.points
            ends.formUnion(o.ends)
            result.endStates = ends.count
            result.complete = result.complete && o.result.complete
            if result.tooLong == nil { result.tooLong = o.result.tooLong }
            for f in o.found where (opts.all || found.isEmpty) && foundKeys.insert(f.violationKey ?? "").inserted { found.append(f) }
            for k in o.outcomes.keys.sorted() {
                let g = o.outcomes[k]!
                if var mine = outcomes[k] {
                    mine.count += g.count
                    if (g.best.preemptions, g.best.steps) < (mine.best.preemptions, mine.best.steps) { mine.best = g.best }
                    outcomes[k] = mine
                } else {
                    outcomes[k] = g
                }
            }
            if let c = o.result.cache {
                var m = result.cache ?? CacheStats(states: 0, matched: 0, transitions: 0, maxDepth: 0, memoryBytes: 0, failure: nil)
                m.states += c.states
                m.matched += c.matched
                m.transitions += c.transitions
                m.maxDepth = max(m.maxDepth, c.maxDepth)
                m.memoryBytes += c.memoryBytes
                m.failure = m.failure ?? c.failure
                result.cache = m
            }
        }

        private mutating func addOutcome(_ o: RunOutcome) {
            let key = Observation.render(o.observed)
            if var g = outcomes[key] {
                g.count += 1
                if (o.preemptions, o.steps) < (g.best.preemptions, g.best.steps) { g.best = o }
                outcomes[key] = g
            } else {
                outcomes[key] = (o.observed, 1, o)
            }
        }

        /// The outcomes, ordered by their rendering (independent of exploration order).
        func outcomeGroups() -> [OutcomeGroup] {
            outcomes.keys.sorted().map { k in
                let g = outcomes[k]!
                return OutcomeGroup(observed: g.observed, schedules: g.count,
                                    schedule: schedule(g.best.choices.prefix(g.best.lastNonDefault + 1), program).description,
                                    preemptions: g.best.preemptions)
            }
        }
    }

    /// Shrinks a violating run: plain DFS (no reduction) at each preemption bound from 0 up to
    /// the run's own looks for a violating run; at the first bound that has one, the search of
    /// that bound goes on to find the run with the fewest steps that breaks the same
    /// invariant in the same place. With `sameKey` (`--all`) only runs with `found`'s
    /// violation count; otherwise the first violating run of the plain DFS order sets what is
    /// looked for, so that the counterexample does not depend on the strategy that found the
    /// first violation (reduced and unreduced search print the same one). At most `budget`
    /// schedules are run in all; the best run found by then is kept (the third result says
    /// the budget ran out). The kept run is replayed with tracing.
    static func shrink(_ snapshot: Snapshot, _ found: RunOutcome, sameKey: Bool, maxSteps: Int, budget: Int,
                       ignored: Set<String>) async -> (Counterexample, Int, Bool) {
        let program = snapshot.program
        var key = sameKey ? found.violationKey : nil
        var best = found
        var spent = 0
        var exhausted = false
        if found.preemptions > 0 || found.steps > 0 {
            search: for bound in 0...found.preemptions {
                let dfs = PlainDFS(bound: bound)
                var hit: RunOutcome?
                while true {
                    if spent >= budget { exhausted = true; break }
                    let o = await dfs.run(snapshot, maxSteps: maxSteps, ignored: ignored)
                    spent += 1
                    if o.ending == .violation, key == nil || o.violationKey == key, hit == nil || o.steps < hit!.steps {
                        hit = o
                        key = o.violationKey
                    }
                    if !dfs.backtrack() { break }
                }
                if let h = hit, !sameKey || (h.preemptions, h.steps) < (best.preemptions, best.steps) { best = h }
                if hit != nil || exhausted { break search }
            }
        }
        let sched = schedule(best.choices.prefix(best.lastNonDefault + 1), program)
        let traced = await runScripted(snapshot, sched, tracing: true, maxSteps: maxSteps, ignored: ignored).outcome
        let v = traced.violation ?? found.violation
        let cx = Counterexample(invariant: v?.invariant ?? "", function: traced.violation != nil ? traced.violationFunction : found.violationFunction,
                                detail: v?.description ?? "", schedule: sched.description,
                                preemptions: traced.preemptions, steps: traced.steps, trace: traced.trace)
        return (cx, spent, exhausted)
    }

    /// The schedule of a run's thread choices.
    static func schedule<C: Collection<Int>>(_ choices: C, _ program: any ExplorableProgram) -> Schedule {
        let names = program.threadNames
        return Schedule(steps: choices.map { names[$0] })
    }

    /// Runs one scripted schedule; an error when a step names a thread that cannot run.
    static func runScripted(_ snapshot: Snapshot, _ schedule: Schedule, tracing: Bool, maxSteps: Int,
                            ignored: Set<String> = []) async -> (outcome: RunOutcome, error: String?) {
        let names = snapshot.threadNames
        var error: String?
        let o = await runOnce(snapshot, tracing: tracing, maxSteps: maxSteps, ignored: ignored) { ex, en, step in
            guard step < schedule.steps.count else { return defaultChoice(ex, en) }
            let want = names.firstIndex(of: schedule.steps[step])!
            guard en.contains(want) else {
                error = "schedule step \(step + 1): thread \(schedule.steps[step]) cannot run there (runnable: \(en.map { names[$0] }.joined(separator: ", ")))"
                return nil
            }
            return want
        }
        if error == nil, o.ending != .violation, o.steps < schedule.steps.count {
            error = "schedule step \(o.steps + 1): every thread is done after \(o.steps) steps (the schedule has \(schedule.steps.count))"
        }
        return (o, error)
    }

    /// `foliosim replay`: runs `schedule` with tracing.
    public static func replay(_ program: any ExplorableProgram, schedule text: String) async throws(ScheduleError) -> ReplayResult {
        let sched = try Schedule.parse(text, threads: program.threadNames)
        let maxSteps = program.explore?.maxSteps ?? ExploreOptions().maxSteps
        let ignored = Set(program.explore?.ignore ?? [])
        let (o, err) = await runScripted(await Snapshot.make(program), sched, tracing: true, maxSteps: maxSteps, ignored: ignored)
        if let err { throw ScheduleError(message: err) }
        return ReplayResult(schedule: sched.description, violation: o.violation, trace: o.trace, steps: o.steps,
                            preemptions: o.preemptions, tooLong: o.ending == .tooLong, observed: o.observed)
    }
}

/// What `foliosim replay` prints.
public struct ReplayResult: Sendable {
    package var schedule: String
    /// The violation the schedule ran into, if any.
    public var violation: Violation?
    package var trace: [String]
    package var steps: Int
    package var preemptions: Int
    package var tooLong: Bool
    /// What the `after` steps observed (empty when the run did not complete).
    package var observed: [Observation]
}
