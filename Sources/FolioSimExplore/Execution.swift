import FolioSimModel

/// One explored run of a config: copy the world as the config's `steps` left it (`Snapshot`),
/// start the `threads` as simulated threads that park at every scheduling point, let a
/// chooser pick which thread runs each next step, check the per-step invariants after
/// every step and the at-rest ones whenever no operation is in flight, then run `after` and
/// the at-rest invariants again. Every schedule runs on its own copy (stateless model
/// checking), so nothing leaks from one schedule to the next.
///
/// Every operation of a thread begins with a scheduling point of its own (the system call
/// entry), before any of its code runs, so "no operation in flight" means exactly: every
/// thread is parked at the start of its next operation, or done. The step that starts an
/// operation of thread X writes `PointObject.quiescence(X)`; the step that ends an operation
/// of any other thread reads it. So an operation's start never commutes with another
/// thread's operation end, and the set of at-rest states a run passes through is the same in
/// every interleaving the reduction treats as equivalent: the events of the operations
/// completed at such a state come before those of the operations not started (an event of a
/// completed op precedes its end, which precedes every later start of another thread, which
/// precedes that op's events). So the at-rest checks see the same states under any
/// reduction, while two starts, or two ends, still commute.
///
/// The choice of the next step is made where a step ends: at the point the running thread
/// reaches (or when it blocks or finishes). When the chooser picks that thread again it goes
/// on without suspending; only a switch parks it on its continuation and resumes the chosen
/// one. Most steps of a preemption-bounded search continue the same thread, so most steps
/// cost no task switch.
final class Execution: SchedulingHooks {
    enum Status { case parked, blocked(LockResource), running, done }

    final class ThreadState {
        let name: String
        var status: Status = .parked
        var continuation: UnsafeContinuation<Void, Never>?
        /// The point the thread is parked at: what its next step touches.
        var pending: SchedPoint
        /// The op in flight, for violation reports.
        var operation = OperationLabel.text("start")
        /// Parked at the start of an operation (nothing of it has run yet).
        var atOpStart = true
        init(name: String, index: Int) {
            self.name = name
            pending = Execution.opStartPoint(index)
        }
    }

    /// The point at the start of every operation of thread `i`.
    static func opStartPoint(_ i: Int) -> SchedPoint { SchedPoint("syscall", "enter", .quiescence(thread: i), .write) }

    /// How a run ended.
    enum Ending: Equatable {
        case completed
        /// A chooser declined to go on (every runnable thread is asleep, or a bound was hit).
        case pruned
        case violation
        /// The run exceeded `maxSteps`.
        case tooLong
    }

    /// Given the execution, the runnable threads and the step index, returns the thread to
    /// run (nil stops the run as pruned).
    typealias Chooser = (Execution, ThreadSet, Int) -> Int?
    /// Called after each step with its index, the thread and the log of what it touched.
    typealias Observer = (Int, Int, AccessLog) -> Void

    let world: World
    let userSpace: any UserSpace
    let executor = SimExecutor()
    let log = AccessLog()
    var threads: [ThreadState] = []
    /// Index of the thread that runs (or ran) the current step (-1 before the first).
    var current = -1
    /// The thread chosen for every step so far.
    var choices: [Int] = []
    /// One line per step when tracing.
    var trace: [String] = []
    let tracing: Bool
    /// Invariants not to report (`--ignore`).
    let ignored: Set<String>
    /// Set once the run stops; nil while it goes on.
    private(set) var ending: Ending?
    /// Preemptions so far: steps that switched away from a thread that could have gone on.
    private(set) var preemptions = 0
    /// The last step whose thread differs from what a non-preemptive run would pick (-1: none).
    private(set) var lastNonDefault = -1
    /// What the `after` steps observed, in step order.
    private(set) var observed: [Observation] = []
    /// The kernel function of the step after which the first violation was found.
    private(set) var violationFunction = ""
    private let chooser: Chooser
    private let observer: Observer?
    /// Called after each step (after `observer`) with the execution and the step index: the
    /// commutativity audit looks at the world there.
    var inspector: ((Execution, Int) -> Void)?
    private let maxSteps: Int
    /// True from the first choice until the run stops: points end steps and choose the next.
    private var stepping = false
    /// The thread whose `reach` asked it to wait, and the thread to resume once it has parked.
    private var parking = -1
    private var switchTo: Int?
    private var abandoning = false
    /// The point whose step is running.
    private var stepPoint = Execution.opStartPoint(0)
    /// The running step began an operation of its thread.
    private var stepBeganOperation = false
    private var traceMark = 0
    /// Keeps the run's state hash for the state cache (nil: no cache).
    var hasher: StateHasher?
    /// The first steps replay a schedule prefix an earlier run took and checked (DPOR's
    /// stack): their invariants are not checked again.
    var replayed = 0
    /// The state hash when every thread was done (before `after`), with a hasher.
    private(set) var finalStateHash: UInt64?

    /// A run that starts from a copy of `snapshot`'s world.
    init(_ snapshot: Snapshot, tracing: Bool, maxSteps: Int, ignored: Set<String> = [], choose: @escaping Chooser, observe: Observer?) {
        self.tracing = tracing
        self.maxSteps = maxSteps
        self.ignored = ignored
        chooser = choose
        observer = observe
        world = World(copying: snapshot.world)
        world.ignoredInvariants = ignored
        userSpace = snapshot.userSpace.copy(in: world)
        threads = snapshot.threadNames.enumerated().map { ThreadState(name: $1, index: $0) }
        choices.reserveCapacity(min(maxSteps, 128))
    }

    // MARK: SchedulingHooks

    func reach(_ thread: SimThread, _ point: SchedPoint) -> Bool { reach(point) }

    /// The running thread reached `point`: true when it must `wait`.
    private func reach(_ point: SchedPoint) -> Bool {
        if abandoning { return false }
        let th = threads[current]
        th.pending = point
        th.status = .parked
        return endStep()
    }

    func reachBlocked(_ thread: SimThread, on resource: LockResource) -> Bool {
        threads[current].status = .blocked(resource)
        return endStep()
    }

    func wait(_ thread: SimThread) async { await waitToRun() }

    /// Parks the thread that reached a point until it is chosen.
    private func waitToRun() async {
        let th = threads[parking]
        let next = switchTo
        switchTo = nil
        await withUnsafeContinuation {
            th.continuation = $0
            if let c = next { self.resume(c) }
        }
    }

    /// The step of the current thread has ended at a point or at a lock it waits for: check,
    /// choose the next step. True when the thread must wait (another one runs next, recorded
    /// in `switchTo`, or the run stops).
    private func endStep() -> Bool {
        let me = current
        parking = me
        guard stepping else { return true }
        guard let c = finishStepAndChoose() else { return true }
        if c == me { return false }
        switchTo = c
        return true
    }

    /// The hash of the run's state now, between steps (`StateHasher`).
    func stateHash() -> UInt64 {
        hasher!.hash(errors: userSpace.errorCount) { t in
            switch self.threads[t].status {
            case .done: 0
            case .parked: self.threads[t].atOpStart ? 1 : 2
            case .blocked: 3
            case .running: 4
            }
        }
    }

    /// What thread `t` is parked at (its next step), for the audit: the point, or its state.
    func pendingDescription(_ t: Int) -> String {
        let th = threads[t]
        switch th.status {
        case .parked: return th.pending.description
        case .blocked(let r): return "blocked on \(r)"
        case .running: return "running"
        case .done: return "done"
        }
    }

    /// What thread `t`'s next step touches first, as a footprint key (`key << 1 | write`),
    /// or `UInt64.max` when it has none (running or done).
    func pendingKey(_ t: Int) -> UInt64 {
        let th = threads[t]
        switch th.status {
        case .parked: return th.pending.object.key << 1 | (th.pending.access == .write ? 1 : 0)
        case .blocked(let r): return r.pointObject.key << 1 | (r.isExclusive ? 1 : 0)
        case .running, .done: return UInt64.max
        }
    }

    // MARK: running

    /// Runs one schedule: starts the threads, makes the first choice and drains the executor
    /// until the run stops; a completed run then gets its `after` steps and final checks.
    func run() async -> Ending {
        start()
        stepping = true
        if let c = choose() { resume(c) }
        executor.drain()
        stepping = false
        let e = ending ?? .completed
        if e == .completed {
            await finish()
            if !world.violations.isEmpty { ending = .violation }
        } else if !(e == .violation && world.violations.first?.invariant == Invariant.deadlock.rawValue) {
            abandon()
        }
        return ending ?? .completed
    }

    /// Starts the threads; each parks at once at the start of its first operation.
    private func start() {
        world.hooks = self
        world.log = log
        if tracing { world.tracer = Tracer() }
        for i in threads.indices {
            let box = UnsafeSendable((self, i))
            current = i
            Task(executorPreference: executor) {
                await box.value.0.threadBody(box.value.1)
            }
            executor.drain()
            log.reset()
        }
        current = -1
    }

    private func threadBody(_ i: Int) async {
        let th = threads[i]
        for k in 0..<userSpace.operationCount(ofThread: i) {
            if k > 0 { noteOperationEnd(i) }
            await enterOperation(i)
            th.operation = .thread(th.name, userSpace.operation(ofThread: i, k))
            world.operation = th.operation
            let errors = await userSpace.run(thread: i, operation: k)
            if tracing { for e in errors { trace.append("\(th.name) error: \(e)") } }
        }
        noteOperationEnd(i)
        th.status = .done
        if stepping, let c = finishStepAndChoose() { resume(c) }
    }

    /// The system call entry of an operation of thread `i`: a scheduling point before any of
    /// its code.
    private func enterOperation(_ i: Int) async {
        threads[i].atOpStart = true
        if reach(Execution.opStartPoint(i)) { await waitToRun() }
        threads[i].atOpStart = false
    }

    /// The running step ends an operation of thread `i`: it reads whether every other thread
    /// is between operations.
    private func noteOperationEnd(_ i: Int) {
        for x in threads.indices where x != i { log.note(.quiescence(thread: x), write: false) }
    }

    /// The bookkeeping after a step of the current thread (checks, trace, observer, limits)
    /// and the choice of the next step; nil when the run stops here.
    private func finishStepAndChoose() -> Int? {
        let th = threads[current]
        hasher?.stepEnded(thread: current, began: stepBeganOperation, log: log)
        // A replayed step was checked when a run first took it (runs are deterministic, and
        // no run goes on past a violation).
        let replay = choices.count <= replayed
        if !replay { world.checkStep(log) }
        if !world.violations.isEmpty && violationFunction.isEmpty { violationFunction = world.kernelName(stepPoint.function) }
        if tracing { traceStep(th.name, stepPoint) }
        if !replay && world.violations.isEmpty && isBetweenOperations && !allDone {
            checkBetweenOperations()
            if !world.violations.isEmpty { violationFunction = "at rest" }
        }
        observer?(choices.count - 1, current, log)
        inspector?(self, choices.count - 1)
        if !world.violations.isEmpty { ending = .violation; return nil }
        if choices.count >= maxSteps { ending = .tooLong; return nil }
        return choose()
    }

    /// Asks the chooser for the next step and begins it; nil (with `ending` set) when nobody
    /// can run or the chooser declines.
    private func choose() -> Int? {
        let en = enabled
        if en.isEmpty {
            if allDone { ending = .completed; if hasher != nil { finalStateHash = stateHash() } } else { reportDeadlock(); ending = .violation }
            return nil
        }
        let depth = choices.count
        guard let c = chooser(self, en, depth) else { ending = .pruned; return nil }
        let last = current
        if last >= 0 && c != last && en.contains(last) { preemptions += 1 }
        if c != Explorer.defaultChoice(self, en) { lastNonDefault = depth }
        beginStep(c)
        return c
    }

    /// Makes thread `i` the running one; what its step touches is logged from here on.
    private func beginStep(_ i: Int) {
        let th = threads[i]
        stepPoint = th.pending
        log.reset()
        stepBeganOperation = th.atOpStart
        // The declared first access is the step's footprint for the reduction; it tells the
        // thread nothing (what the step reads, its accessors record with their values).
        if case .blocked(let r) = th.status { log.note(key: r.pointObject.key, write: r.isExclusive, told: 0) }
        log.note(key: stepPoint.object.key, write: stepPoint.access == .write, told: 0)
        if current != i { world.operation = th.operation }
        current = i
        choices.append(i)
        th.status = .running
    }

    /// Resumes the parked thread `i` (its job runs when the executor is drained).
    private func resume(_ i: Int) {
        let th = threads[i]
        let k = th.continuation!
        th.continuation = nil
        k.resume()
    }

    /// Whether thread `i` can take its next step now: parked, and the lock its next step
    /// takes (if any) is free.
    func isEnabled(_ i: Int) -> Bool {
        let th = threads[i]
        switch th.status {
        case .parked:
            if let r = th.pending.acquires { return world.isAvailable(r) }
            return true
        case .blocked(let r): return world.isAvailable(r)
        case .running, .done: return false
        }
    }

    var enabled: ThreadSet {
        var out = ThreadSet()
        for i in threads.indices where isEnabled(i) { out.insert(i) }
        return out
    }
    var allDone: Bool { threads.allSatisfy { if case .done = $0.status { true } else { false } } }

    /// No operation is in flight: every thread is done or parked at the start of its next
    /// operation.
    private var isBetweenOperations: Bool {
        threads.allSatisfy { th in
            if case .done = th.status { return true }
            if case .parked = th.status { return th.atOpStart }
            return false
        }
    }

    /// The at-rest invariants at a moment when no operation is in flight (the end of a run
    /// is checked by `finish`).
    private func checkBetweenOperations() {
        log.enabled = false
        let label = world.operation
        world.currentOperation = "no operation in flight"
        world.checkInvariants()
        world.operation = label
        log.enabled = true
    }

    private func traceStep(_ name: String, _ point: SchedPoint) {
        let fn = world.kernelName(point.function)
        var line = "\(name) \(fn): \(point.step)"
        if let lock = point.lockName { line += "(\(lock))" }
        if let tr = world.tracer {
            for e in tr.events[traceMark...] {
                line += e.function == fn ? "; \(e.what)" : "; \(e.function): \(e.what)"
            }
            traceMark = tr.events.count
        }
        trace.append(KernelNames.name(in: line, release: world.semantics.release))
    }

    /// Finishes a run whose threads are all done: the at-rest invariants, the `after` steps
    /// (what they observe is the run's outcome) and the at-rest invariants again.
    private func finish() async {
        world.hooks = nil
        world.log = nil
        world.currentOperation = "threads done"
        world.checkInvariants()
        if !world.violations.isEmpty {
            violationFunction = "at rest"
            return
        }
        observed = await userSpace.runAfter()
        world.currentOperation = "end of run"
        world.checkInvariants()
        if !world.violations.isEmpty { violationFunction = "after" }
        if tracing, let tr = world.tracer {
            for e in tr.events[traceMark...] { trace.append(KernelNames.name(in: "- \(e.function): \(e.what)", release: world.semantics.release)) }
        }
    }

    /// Stops a run early: the parked threads run to completion without scheduling or
    /// checks, so that their tasks end and the world can be freed.
    private func abandon() {
        abandoning = true
        world.log = nil
        world.tracer = nil
        while true {
            guard let i = threads.indices.first(where: { isEnabled($0) }) else { break }
            let th = threads[i]
            current = i
            th.status = .running
            let c = th.continuation!
            th.continuation = nil
            c.resume()
            executor.drain()
        }
        world.hooks = nil
    }

    /// The violation that ended the run, with a deadlock described when nobody can run.
    private func reportDeadlock() {
        var parts: [String] = []
        for th in threads {
            let r: LockResource?
            switch th.status {
            case .blocked(let res): r = res
            case .parked: r = th.pending.acquires
            default: r = nil
            }
            if let r { parts.append("\(th.name) waits for \(r) held by \(world.holderName(r))") }
        }
        world.recordViolation(.deadlock, nil, "no thread can run: " + parts.joined(separator: "; "))
        violationFunction = "deadlock"
    }
}

/// A value handed to a simulated thread's task; every task runs on the explorer's executor,
/// one at a time, so nothing is shared across OS threads.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
