import FolioSimModel
import FolioSimExplore

/// A step that failed (the syscall returned an error, or the access was killed by a signal).
package struct StepError: Equatable, Sendable {
    package var step: Int
    package var operation: String
    package var message: String
}

/// The outcome of one `checkPin` step.
package struct PinCheck: Equatable, Sendable {
    package var step: Int
    package var id: String
    /// Pages whose pinned copy and mapped copy agree, out of `pages`.
    package var coherentPages: Int
    package var pages: Int
    /// "coherent", "stale" (a `pin-coherent` violation), "unmapped" (the user unmapped a
    /// pinned page; the rest are coherent) or "not checked" (FOLL_GET).
    package var verdict: String
}

/// What one `readPipe` or `readPin` step returned: the data word of each page, in order.
package struct DeviceRead: Equatable, Sendable {
    package var step: Int
    /// `pipe NAME` or `pin ID`.
    package var source: String
    package var data: [UInt32]
}

extension Observation {
    /// An observation written in a config's `expect.outcomes`.
    init?(expected v: JSONValue) {
        switch v {
        case .number(let d, _):
            guard d >= 0, d <= Double(UInt32.max), d == d.rounded() else { return nil }
            self = .value(UInt32(d))
        case .array(let items):
            var vs: [UInt32] = []
            for item in items {
                guard case .number(let d, _) = item, d >= 0, d <= Double(UInt32.max), d == d.rounded() else { return nil }
                vs.append(UInt32(d))
            }
            self = .values(vs)
        case .string(let s):
            if ["coherent", "stale", "unmapped", "not checked"].contains(s) { self = .verdict(s) }
            else if s.hasPrefix("error: ") { self = .error(String(s.dropFirst(7))) }
            else { return nil }
        default:
            return nil
        }
    }
}

/// Everything a run produced; reports read only this.
public struct RunResult {
    package var scenario: Scenario
    /// The world as the run left it.
    public var world: World
    package var errors: [StepError]
    package var pinChecks: [PinCheck]
    package var reads: [DeviceRead]
    /// What each `trace` step replayed.
    package var traces: [TraceStats] = []
    package var peakUsedPages: Int
    /// The peak of MM_ANONPAGES over the live processes (after every step, and every event
    /// of a trace).
    package var peakAnonPages = 0
    /// Trace lines, when tracing was on.
    public var trace: [TraceEvent]
    /// What the `after` steps observed (a config with `threads`: the outcome of the
    /// non-preemptive schedule).
    package var observed: [Observation] = []
    /// The event counters summed over every process of the run (exited ones too).
    public var totals: ProcessStats { world.totalStats }
    /// The invariant violations the checks found, in the order found.
    public var violations: [Violation] { world.violations }
}

/// Runs a scenario step by step with the run-to-completion scheduler (no scheduler attached:
/// kernel paths never suspend), checking invariants as the config asks.
public enum ExperimentRunner {
    /// `progress` is called before each step with its index and the number of steps.
    /// `checks` defaults to incremental checks when the config checks after every step.
    public static func run(_ scenario: Scenario, trace: Bool = false, checks: CheckStrategy? = nil,
                           progress: ((Int, Int) -> Void)? = nil) async -> RunResult {
        let world = scenario.newWorld()
        world.checkStrategy = checks ?? (scenario.check == .step ? .incremental : .full)
        if trace { world.tracer = Tracer() }
        let state = RunState(world: world)
        await state.runSteps(scenario.steps, check: scenario.check, progress: progress)
        // A config's threads run one after another, in the order written, each op to the end
        // (the non-preemptive schedule), then `after`, whose observations are the outcome.
        state.createsProcesses = false
        let offset = scenario.steps.count
        for th in scenario.threads {
            await state.runSteps(th.steps, check: scenario.check, stepOffset: offset, label: "thread", threadName: th.name)
        }
        state.observations = []
        await state.runSteps(scenario.after, check: scenario.check, stepOffset: offset + scenario.threads.count, label: "after")
        if scenario.check == .end {
            world.currentOperation = "end of run"
            world.checkInvariants()
        }
        return RunResult(scenario: scenario, world: world, errors: state.errors, pinChecks: state.pinChecks, reads: state.reads,
                         traces: state.traces, peakUsedPages: state.peak, peakAnonPages: state.peakAnon,
                         trace: world.tracer?.events ?? [], observed: state.observations ?? [])
    }
}

/// The user-space side of a run: processes by name, the threads of the config's `threads`
/// section, the pins a simulated driver holds.
final class RunState {
    let world: World
    var threads: [String: SimThread] = [:]
    /// Threads named in `threads:` that run in another process's mm.
    var extraThreads: [ThreadKey: SimThread] = [:]
    struct ThreadKey: Hashable {
        var thread: String
        var process: String
    }
    var errors: [StepError] = []
    var pinChecks: [PinCheck] = []
    var reads: [DeviceRead] = []
    var traces: [TraceStats] = []
    var peak = 0
    var peakAnon = 0
    /// While non-nil, what each step observes is appended (the `after` steps).
    var observations: [Observation]?
    /// Whether naming an unknown process creates it (only in `steps`).
    var createsProcesses = true

    init(world: World) { self.world = world }

    /// A copy for `world`, a copy of this state's world: the same threads by name.
    init(copying o: RunState, world: World) {
        self.world = world
        threads = o.threads.mapValues { world.threads[Int($0.id) - 1] }
        extraThreads = o.extraThreads.mapValues { world.threads[Int($0.id) - 1] }
        errors = o.errors
        pinChecks = o.pinChecks
        reads = o.reads
        traces = o.traces
        peak = o.peak
        peakAnon = o.peakAnon
    }

    /// Runs `steps` one after the other with every kernel path run to completion.
    func runSteps(_ steps: [Step], check: CheckMode, stepOffset: Int = 0, label: StaticString = "step",
                  threadName: String? = nil, progress: ((Int, Int) -> Void)? = nil) async {
        for (i, step) in steps.enumerated() {
            progress?(i, steps.count)
            for k in 0..<step.repeatCount {
                await runStep(step, index: i, repetition: k, stepOffset: stepOffset, label: label, threadName: threadName)
                notePeaks()
                if check == .step { world.checkInvariants() }
            }
        }
    }

    /// Runs repetition `k` of step `i`, labelled for reports as its section and thread.
    func runStep(_ step: Step, index i: Int, repetition k: Int, stepOffset: Int = 0, label: StaticString = "step",
                 threadName: String? = nil) async {
        let op = step.op(k)
        world.operation = threadName.map { .thread($0, op) } ?? .step(section: label, index: i, repetition: k, count: step.repeatCount, op: op)
        await execute(op, step: stepOffset + i, threadName: threadName)
    }

    func notePeaks() {
        peak = max(peak, world.memory.usedPages)
        peakAnon = max(peakAnon, world.liveMMs.reduce(0) { $0 + $1.rssAnon })
    }

    /// The process `name`'s own thread; in `steps` a process comes into being when first named,
    /// in `threads` and `after` it must exist (`createsProcesses` false).
    func thread(_ name: String) -> SimThread? {
        if let t = threads[name] { return t }
        guard createsProcesses, let t = world.createProcess(name: name) else { return nil }
        threads[name] = t
        return t
    }

    /// The simulated thread called `threadName` in the mm of process `proc`: the process's own
    /// thread when the names agree, else a CLONE_VM thread created on first use.
    func thread(_ threadName: String, in proc: String) -> SimThread? {
        guard let main = thread(proc) else { return nil }
        if threadName == proc { return main }
        let key = ThreadKey(thread: threadName, process: proc)
        if let t = extraThreads[key], t.mm === main.mm { return t }
        let t = world.addThread(name: threadName, mm: main.mm)
        extraThreads[key] = t
        return t
    }

    func fail(_ step: Int, _ op: Op, _ message: String) {
        errors.append(StepError(step: step, operation: op.summary, message: message))
        observations?.append(.error(message))
    }

    /// Runs one op; `threadName` names the thread of a `threads:` entry that runs it.
    func execute(_ op: Op, step: Int, threadName: String? = nil) async {
        var t: SimThread?
        if let procName = op.process {
            t = threadName.map { thread($0, in: procName) } ?? thread(procName)
            if t == nil {
                fail(step, op, createsProcesses ? "ENOMEM: no memory for the process's page-table root" : "ESRCH: process \(procName) does not exist (yet)")
                return
            }
        }
        await perform(op, step: step, t, threadName: threadName)
    }

    /// Runs one op in `t` (nil for ops on a pin and for traces): what the op's definition
    /// calls in the model; a thrown error is the step's error.
    private func perform(_ op: Op, step: Int, _ t: SimThread?, threadName: String?) async {
        do {
            try await op.body.run(OpRun(state: self, step: step, thread: t, threadName: threadName))
        } catch {
            fail(step, op, "\(error)")
        }
    }

    /// Accesses every address in order; returns the values loaded (when observing a read),
    /// nil after a failure.
    @discardableResult
    func access(_ step: Int, _ op: Op, _ t: SimThread, _ addrs: PageAddresses, write: Bool, value: UInt32, expect: UInt32?) async -> [UInt32]? {
        var values: [UInt32]? = observations != nil && !write ? [] : nil
        guard let (a, r) = await world.accessEach(t, addrs, write: write, value: value, expect: expect, values: &values) else {
            return values ?? []
        }
        switch r {
        case .ok: break
        case .segv: fail(step, op, "SIGSEGV at 0x\(String(a, radix: 16))")
        case .bus: fail(step, op, "SIGBUS at 0x\(String(a, radix: 16))")
        case .oom: fail(step, op, "out of memory at 0x\(String(a, radix: 16))")
        }
        return nil
    }

    /// Records what a read through a pipe or a pin returned, and checks `expect`.
    func recordRead(_ step: Int, _ source: String, _ data: [UInt32], expect: UInt32?, mm: MM?) {
        reads.append(DeviceRead(step: step, source: source, data: data))
        if let e = expect, let bad = data.firstIndex(where: { $0 != e }) {
            world.recordViolation(.readValue, mm, "\(source) page \(bad) read \(data[bad]), expected \(e)")
        }
    }

    func checkPin(_ step: Int, _ id: String) async {
        guard let r = world.checkPinCoherent(id) else {
            fail(step, Op(CheckPinOp(id: id)), "no pin \(JSONWriter.quote(id)) is held")
            return
        }
        pinChecks.append(PinCheck(step: step, id: id, coherentPages: r.coherent, pages: r.pages, verdict: r.verdict))
        observations?.append(.verdict(r.verdict))
    }
}
