/// One explored run of a config: copy the world as the config's `steps` left it (`Snapshot`),
/// start the `threads` as simulated threads that park at every scheduling point, let a
/// chooser pick which thread runs each next step, check the per-step invariants after
/// every step and the at-rest ones whenever no operation is in flight, then run `after` and
/// the at-rest invariants again. Every schedule runs on its own copy (stateless model
/// checking), so nothing leaks from one schedule to the next.
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
        let steps: [Step]
        var status: Status = .parked
        var continuation: UnsafeContinuation<Void, Never>?
        /// The point the thread is parked at: what its next step touches.
        var pending: SchedPoint
        /// The op in flight, for violation reports.
        var operation = OperationLabel.text("start")
        /// Steps taken in the current op: 0 while the thread is parked before its first step
        /// (what runs before the first point touches nothing shared).
        var stepsInOp = 0
        init(name: String, steps: [Step]) {
            self.name = name
            self.steps = steps
            pending = SchedPoint("thread", "start", .unknown, .write)
        }
    }

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

    let scenario: Scenario
    let world: World
    let state: RunState
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
    /// Set once the run stops; nil while it goes on.
    private(set) var ending: Ending?
    /// Preemptions so far: steps that switched away from a thread that could have gone on.
    private(set) var preemptions = 0
    /// The last step whose thread differs from what a non-preemptive run would pick (-1: none).
    private(set) var lastNonDefault = -1
    private let chooser: Chooser
    private let observer: Observer?
    private let maxSteps: Int
    /// True from the first choice until the run stops: points end steps and choose the next.
    private var stepping = false
    /// The thread whose `reach` asked it to wait, and the thread to resume once it has parked.
    private var parking = -1
    private var switchTo: Int?
    private var abandoning = false
    /// The point whose step is running.
    private var stepPoint = SchedPoint("thread", "start", .unknown, .write)
    private var traceMark = 0

    /// A run that starts from a copy of `snapshot`'s world.
    init(_ snapshot: Snapshot, tracing: Bool, maxSteps: Int, choose: @escaping Chooser, observe: Observer?) {
        scenario = snapshot.scenario
        self.tracing = tracing
        self.maxSteps = maxSteps
        chooser = choose
        observer = observe
        world = World(copying: snapshot.world)
        state = RunState(copying: snapshot.state, world: world)
        threads = scenario.threads.map { ThreadState(name: $0.name, steps: $0.steps) }
        choices.reserveCapacity(min(maxSteps, 128))
    }

    // MARK: SchedulingHooks

    func reach(_ thread: SimThread, _ point: SchedPoint) -> Bool {
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

    func wait(_ thread: SimThread) async {
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

    /// Starts the threads and runs each up to its first scheduling point (what comes before
    /// it touches only the thread's own state).
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
        let offset = scenario.steps.count
        for (k, step) in th.steps.enumerated() {
            for r in 0..<step.repeatCount {
                let op = step.op(r)
                th.operation = .thread(th.name, op)
                th.stepsInOp = 0
                world.operation = th.operation
                await state.execute(op, step: offset + k, threadName: th.name)
            }
        }
        th.stepsInOp = 0
        th.status = .done
        if stepping, let c = finishStepAndChoose() { resume(c) }
    }

    /// The bookkeeping after a step of the current thread (checks, trace, observer, limits)
    /// and the choice of the next step; nil when the run stops here.
    private func finishStepAndChoose() -> Int? {
        let th = threads[current]
        world.checkStep(log)
        if tracing { traceStep(th.name, stepPoint) }
        if th.stepsInOp == 0 && world.violations.isEmpty && isBetweenOperations && !allDone { checkBetweenOperations() }
        observer?(choices.count - 1, current, log)
        if !world.violations.isEmpty { ending = .violation; return nil }
        if choices.count >= maxSteps { ending = .tooLong; return nil }
        return choose()
    }

    /// Asks the chooser for the next step and begins it; nil (with `ending` set) when nobody
    /// can run or the chooser declines.
    private func choose() -> Int? {
        let en = enabled
        if en.isEmpty {
            if allDone { ending = .completed } else { reportDeadlock(); ending = .violation }
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
        if case .blocked(let r) = th.status { log.note(r.pointObject, write: r.isExclusive) }
        log.note(stepPoint.object, write: stepPoint.access == .write)
        if current != i { world.operation = th.operation }
        current = i
        choices.append(i)
        th.stepsInOp += 1
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

    /// No operation is in flight: every thread is done or parked before the first step of
    /// its next op.
    private var isBetweenOperations: Bool {
        threads.allSatisfy { th in
            if case .done = th.status { return true }
            return th.stepsInOp == 0
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
        let fn = kernelFunctionName(point.function)
        var line = "\(name) \(fn): \(point.step)"
        if let tr = world.tracer {
            for e in tr.events[traceMark...] {
                line += e.function == fn ? "; \(e.what)" : "; \(e.function): \(e.what)"
            }
            traceMark = tr.events.count
        }
        trace.append(line)
    }

    /// Finishes a run whose threads are all done: the at-rest invariants, the `after` steps
    /// and the at-rest invariants again.
    private func finish() async {
        world.hooks = nil
        world.log = nil
        world.currentOperation = "threads done"
        world.checkInvariants()
        if !world.violations.isEmpty { return }
        await state.runSteps(scenario.after, check: .off, stepOffset: scenario.steps.count + threads.count, label: "after")
        world.currentOperation = "end of run"
        world.checkInvariants()
        if tracing, let tr = world.tracer {
            for e in tr.events[traceMark...] { trace.append("- \(e.function): \(e.what)") }
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
    }
}

/// A value handed to a simulated thread's task; every task runs on the explorer's executor,
/// one at a time, so nothing is shared across OS threads.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The kernel's name for a Swift function name from `#function` (`doWPPage(_:_:)` →
/// `do_wp_page`); kernel names pass through unchanged.
func kernelFunctionName(_ s: StaticString) -> String {
    var name = s.description
    if let p = name.firstIndex(of: "(") { name = String(name[..<p]) }
    if let mapped = swiftToKernel[name] { return mapped }
    guard name.contains(where: { $0.isUppercase }) else { return name }
    var out = ""
    let chars = Array(name)
    for (i, c) in chars.enumerated() {
        if c.isUppercase {
            let prevLower = i > 0 && (chars[i - 1].isLowercase || chars[i - 1].isNumber)
            let nextLower = i + 1 < chars.count && chars[i + 1].isLowercase && !(i + 2 == chars.count && chars[i + 1] == "s")
                && !(i + 2 < chars.count && chars[i + 1] == "s" && chars[i + 2].isUppercase)
            let prevUpper = i > 0 && chars[i - 1].isUppercase
            if i > 0 && (prevLower || (prevUpper && nextLower)) && !out.hasSuffix("_") { out += "_" }
            out += c.lowercased()
        } else {
            out.append(c)
        }
    }
    return out
}

/// Swift functions whose kernel counterpart has another name.
private let swiftToKernel: [String: String] = [
    "exitMM": "exit_mmap",
    "access": "do_user_addr_fault",
    "getUserPages": "__get_user_pages",
    "getUserPagesFast": "gup_fast_fallback",
    "gupFastOne": "gup_fast_pte_range",
    "fork": "dup_mmap",
    "zapPTERange": "zap_pte_range",
    "madvisePageout": "madvise_cold_or_pageout_pte_range",
    "followPage": "follow_page_pte",
    "wpCanReuseByRefcount": "wp_can_reuse_anon_folio",
    "mmap": "mmap_region",
    "madvise": "do_madvise",
    "mprotect": "do_mprotect_pkey",
    "munmap": "do_vmi_munmap",
    "tryToUnmapOne": "try_to_unmap_one",
    "reclaimPages": "shrink_folio_list",
    "vmfPTEAlloc": "__pte_alloc",
    "pteAlloc": "__pte_alloc",
    "splitHugePMD": "__split_huge_pmd",
]
