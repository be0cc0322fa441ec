/// A step that failed (the syscall returned an error, or the access was killed by a signal).
public struct StepError: Equatable, Sendable {
    public var step: Int
    public var operation: String
    public var message: String
}

/// The outcome of one `checkPin` step.
public struct PinCheck: Equatable, Sendable {
    public var step: Int
    public var id: String
    /// Pages whose pinned copy and mapped copy agree, out of `pages`.
    public var coherentPages: Int
    public var pages: Int
    /// Whether the kernel promises coherency for this pin (FOLL_PIN with LONGTERM or WRITE).
    public var promised: Bool
}

/// What one `readPipe` or `readPin` step returned: the data word of each page, in order.
public struct DeviceRead: Equatable, Sendable {
    public var step: Int
    /// `pipe NAME` or `pin ID`.
    public var source: String
    public var data: [UInt32]
}

/// Everything a run produced; reports read only this.
public struct RunResult {
    public var scenario: Scenario
    public var world: World
    public var errors: [StepError]
    public var pinChecks: [PinCheck]
    public var reads: [DeviceRead]
    /// What each `trace` step replayed.
    public var traces: [TraceStats] = []
    public var peakUsedPages: Int
    /// The peak of MM_ANONPAGES over the live processes (after every step, and every event
    /// of a trace).
    public var peakAnonPages = 0
    /// Trace lines, when tracing was on.
    public var trace: [TraceEvent]
}

/// Runs a scenario step by step with the run-to-completion scheduler (no scheduler attached:
/// kernel paths never suspend), checking invariants as the config asks.
public enum ExperimentRunner {
    /// `progress` is called before each step with its index and the number of steps.
    /// `checks` defaults to incremental checks when the config checks after every step.
    public static func run(_ scenario: Scenario, trace: Bool = false, checks: CheckStrategy? = nil,
                           progress: ((Int, Int) -> Void)? = nil) async -> RunResult {
        let world = World(memoryBytes: scenario.memoryBytes, swapBytes: scenario.swapBytes,
                          semantics: scenario.semantics, thp: scenario.thp)
        world.checkStrategy = checks ?? (scenario.check == .step ? .incremental : .full)
        if trace { world.tracer = Tracer() }
        let state = RunState(world: world)
        await state.runSteps(scenario.steps, check: scenario.check, progress: progress)
        if scenario.check == .end {
            world.currentOperation = "end of run"
            world.checkInvariants()
        }
        return RunResult(scenario: scenario, world: world, errors: state.errors, pinChecks: state.pinChecks, reads: state.reads,
                         traces: state.traces, peakUsedPages: state.peak, peakAnonPages: state.peakAnon,
                         trace: world.tracer?.events ?? [])
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
                  progress: ((Int, Int) -> Void)? = nil) async {
        for (i, step) in steps.enumerated() {
            progress?(i, steps.count)
            for k in 0..<step.repeatCount {
                let op = step.op(k)
                world.operation = .step(section: label, index: i, repetition: k, count: step.repeatCount, op: op)
                await execute(op, step: stepOffset + i)
                notePeaks()
                if check == .step { world.checkInvariants() }
            }
        }
    }

    func notePeaks() {
        peak = max(peak, world.memory.usedPages)
        peakAnon = max(peakAnon, world.mms.reduce(0) { $0 + ($1.alive ? $1.rssAnon : 0) })
    }

    func thread(_ name: String) -> SimThread? {
        if let t = threads[name] { return t }
        guard let t = world.createProcess(name: name) else { return nil }
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
    }

    /// Runs one op; `threadName` names the thread of a `threads:` entry that runs it.
    func execute(_ op: Op, step: Int, threadName: String? = nil) async {
        var t: SimThread?
        if let procName = op.process {
            t = threadName.map { thread($0, in: procName) } ?? thread(procName)
            if t == nil { fail(step, op, "ENOMEM: no memory for the process's page-table root"); return }
        }
        do {
            switch op {
            case .mmap(_, let addr, let size, let prot, let map):
                let kind: MapKind
                switch map {
                case .privateAnon: kind = .privateAnon
                case .privateFile(let name, let fk, let off): kind = .privateFile(file: world.fileIndex(named: name, kind: fk), pgoff: off)
                case .sharedFile(let name, let fk, let off): kind = .sharedFile(file: world.fileIndex(named: name, kind: fk), pgoff: off)
                }
                try await world.mmap(t!, addr: addr, size: size, prot: prot, kind: kind)
            case .munmap(_, let addr, let size):
                try await world.munmap(t!, addr: addr, size: size)
            case .mprotect(_, let addr, let size, let prot):
                try await world.mprotect(t!, addr: addr, size: size, prot: prot)
            case .madvise(_, let addr, let size, let advice):
                try await world.madvise(t!, addr: addr, size: size, advice: advice)
            case .mremap(_, let addr, let size, let to):
                try await world.mremap(t!, from: addr, size: size, to: to)
            case .write(_, let addr, let size, let value):
                await access(step, op, t!, pages(addr, size), write: true, value: value, expect: nil)
            case .read(_, let addr, let size, let expect):
                await access(step, op, t!, pages(addr, size), write: false, value: 0, expect: expect)
            case .touch(_, let addr, let size, let pattern, let count, let write, let value):
                await access(step, op, t!, touchPages(addr, size, pattern, count), write: write, value: value, expect: nil)
            case .fork(_, let child):
                threads[child] = try await world.fork(t!, childName: child)
            case .exit(let p):
                await world.exitMM(t!)
                threads[p] = nil
            case .pin(_, let addr, let size, let flags, let fast, let id):
                try await world.pin(t!, id: id, addr: addr, nrPages: Int(size >> Geometry.pageShift), flags: flags, fast: fast)
            case .unpin(let id):
                await world.releasePin(id: id, by: threadName.flatMap { n in world.threads.last { $0.name == n } })
            case .checkPin(let id):
                await checkPin(step, id)
            case .vmsplice(_, let addr, let size, let pipe):
                try await world.vmsplice(t!, pipe: pipe, addr: addr, nrPages: Int(size >> Geometry.pageShift))
            case .readPipe(_, let pipe, let expect):
                let data = await world.readPipe(t, pipe: pipe) ?? []
                recordRead(step, "pipe \(pipe)", data, expect: expect, mm: t!.mm)
            case .iouringRegister(_, let addr, let size, let id):
                try await world.iouringRegister(t!, id: id, addr: addr, nrPages: Int(size >> Geometry.pageShift))
            case .gupTestPin(_, let addr, let size, let fast, let id):
                try await world.gupTestPin(t!, id: id, addr: addr, nrPages: Int(size >> Geometry.pageShift), fast: fast)
            case .trace(let file, let trace):
                traces.append(await replay(trace, file: file))
            case .readPin(let id, let expect):
                let data = world.readPinned(id: id) ?? []
                let mm = world.pins.last { $0.id == id && !$0.released }.map { world.mms[$0.mm] }
                recordRead(step, "pin \(id)", data, expect: expect, mm: mm)
            case .clearRefs:
                await world.clearRefsSoftDirty(t!)
            }
        } catch {
            fail(step, op, "\(error)")
        }
    }

    /// The pages of `[addr, addr + size)`, generated one at a time.
    func pages(_ addr: UInt64, _ size: UInt64) -> StrideTo<UInt64> {
        stride(from: addr, to: addr + size, by: Int(Geometry.pageSize))
    }

    /// The addresses a `touch` step accesses, generated one at a time (a 256 GiB range is
    /// never materialised).
    func touchPages(_ addr: UInt64, _ size: UInt64, _ pattern: TouchPattern, _ count: Int?) -> AnySequence<UInt64> {
        let npages = size >> Geometry.pageShift
        switch pattern {
        case .seq:
            let passes = count ?? 1
            return AnySequence((0..<passes).lazy.flatMap { _ in self.pages(addr, size) })
        case .random(let seed):
            let n = count ?? 1
            return AnySequence(sequence(state: (x: seed, k: 0)) { st -> UInt64? in
                guard st.k < n else { return nil }
                st.k += 1
                st.x = st.x &* 6364136223846793005 &+ 1442695040888963407
                return addr + ((st.x >> 33) % npages) << Geometry.pageShift
            })
        case .stride(let s):
            let n = count ?? Int((npages + s - 1) / s)
            let step = s % npages
            return AnySequence((0..<n).lazy.map { k -> UInt64 in
                // (k * s) mod npages without overflow: both factors reduced first.
                let r = npages.dividingFullWidth((UInt64(k) % npages).multipliedFullWidth(by: step)).remainder
                return addr + r << Geometry.pageShift
            })
        }
    }

    func access<S: Sequence<UInt64>>(_ step: Int, _ op: Op, _ t: SimThread, _ addrs: S, write: Bool, value: UInt32, expect: UInt32?) async {
        for a in addrs {
            let r = await world.access(t, a, write: write, value: value)
            switch r {
            case .ok(let v):
                if let e = expect, v != e {
                    world.recordViolation(.readValue, t.mm, addr: a, "read \(v), expected \(e)")
                }
            case .segv:
                fail(step, op, "SIGSEGV at 0x\(String(a, radix: 16))")
                return
            case .bus:
                fail(step, op, "SIGBUS at 0x\(String(a, radix: 16))")
                return
            case .oom:
                fail(step, op, "out of memory at 0x\(String(a, radix: 16))")
                return
            }
        }
    }

    /// Records what a read through a pipe or a pin returned, and checks `expect`.
    func recordRead(_ step: Int, _ source: String, _ data: [UInt32], expect: UInt32?, mm: MM?) {
        reads.append(DeviceRead(step: step, source: source, data: data))
        if let e = expect, let bad = data.firstIndex(where: { $0 != e }) {
            world.recordViolation(.readValue, mm, "\(source) page \(bad) read \(data[bad]), expected \(e)")
        }
    }

    func checkPin(_ step: Int, _ id: String) async {
        guard let pin = world.pins.last(where: { $0.id == id && !$0.released }) else { return }
        let mm = world.mms[pin.mm]
        var coherent = 0
        let promised = pin.pages.first.map { world.pinPromisesCoherency(pin.flags, $0) } ?? false
        for (j, page) in pin.pages.enumerated() {
            let addr = pin.addr + UInt64(j) * Geometry.pageSize
            let mapped = mm.alive ? world.mappedPage(mm, addr) : nil
            if mapped == page {
                coherent += 1
            } else if promised && !pin.detached[j] {
                world.recordViolation(.pinCoherent, mm, addr: addr, folio: world.memory.folio(of: page),
                                      "pin \(id) holds \(page) (data \(world.memory.data(page))) but the address maps \(mapped.map { "\($0) (data \(world.memory.data($0)))" } ?? "nothing")")
            }
        }
        pinChecks.append(PinCheck(step: step, id: id, coherentPages: coherent, pages: pin.pages.count, promised: promised))
    }
}

extension World {
    /// Records a violation found outside the kernel paths (a config expectation).
    public func recordViolation(_ invariant: Invariant, _ mm: MM?, addr: UInt64? = nil, folio: PFN? = nil, _ detail: String) {
        report(invariant, mm, addr: addr, folio: folio, detail)
    }

    /// Registers pages a simulated driver pinned (FOLL_PIN) or referenced (FOLL_GET).
    public func addPin(_ pin: PinRecord) { pins.append(pin) }

    /// A simulated driver pins `nrPages` pages at `addr` of `t`'s mm (`pin_user_pages*`, or
    /// `get_user_pages*` with FOLL_GET; GUP-fast first with `fast`) and holds them as `id`.
    @discardableResult
    public func pin(_ t: SimThread, id: String, addr: UInt64, nrPages: Int = 1, flags: GUPFlags,
                    fast: Bool = false) async throws(MMError) -> [PFN] {
        let got: [PFN]
        do {
            got = fast ? try await getUserPagesFast(t, addr: addr, nrPages: nrPages, flags: flags)
                       : try await getUserPages(t, addr: addr, nrPages: nrPages, flags: flags)
        } catch {
            inFlightPins.removeAll { $0.thread == t.id }
            throw error
        }
        inFlightPins.removeAll { $0.thread == t.id }
        addPin(PinRecord(id: id, mm: t.mm.index, addr: addr, pages: got, flags: flags,
                         detached: Array(repeating: false, count: got.count)))
        return got
    }

    /// Releases the newest held pin called `id` (`unpin_user_pages` / `put_page`).
    public func releasePin(id: String, by t: SimThread? = nil) async {
        guard let i = pins.lastIndex(where: { $0.id == id && !$0.released }) else { return }
        let mm = mms[pins[i].mm]
        let pin = pins[i]
        pins[i].released = true
        await unpinUserPages(t ?? threads.first { $0.mm === mm }, pin.pages, flags: pin.flags, mm: mm)
    }
}
