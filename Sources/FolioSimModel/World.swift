/// A simulated thread: the `current` of a kernel path. Thread IDs start at 1 (0 = nobody).
package final class SimThread: CustomStringConvertible {
    package let id: Int32
    /// The name used in traces and schedules, e.g. "A1".
    package let name: String
    package let mm: MM
    /// Pages the GUP call in flight has kept (FOLL_PIN): pins the checker counts from the
    /// moment they are kept until the driver holds them. The call's own state, not shared.
    var gupKept: [(page: PFN, flags: GUPFlags)] = []
    init(id: Int32, name: String, mm: MM) { self.id = id; self.name = name; self.mm = mm }
    package var description: String { name }
}

/// What a violation report says an operation was: an op of the program that drives the
/// world (a config's op, in the experiments layer), described on demand.
public protocol DescribedOperation: Sendable {
    /// A short description for reports: `write P 0x40000000 8M`.
    var summary: String { get }
}

/// The operation a world is running, for violation reports: built per step, so it keeps the
/// op and only formats it on demand.
package enum OperationLabel: Sendable, CustomStringConvertible {
    case text(String)
    /// Step `index` (repetition `repetition` of `count`) of a program section (`step`, `after`).
    case step(section: StaticString, index: Int, repetition: Int, count: Int, op: any DescribedOperation)
    /// An op of a concurrent thread.
    case thread(String, any DescribedOperation)
    package var description: String {
        switch self {
        case .text(let s): s
        case .step(let section, let i, let k, let n, let op): "\(section) \(i)\(n > 1 ? "#\(k)" : "") (\(op.summary))"
        case .thread(let name, let op): "\(name): \(op.summary)"
        }
    }
}

/// A violation of a named invariant.
public struct Violation: Sendable, Equatable, CustomStringConvertible {
    package var invariant: String
    package var process: String
    package var address: UInt64?
    package var folio: PFN?
    package var operation: String
    package var detail: String
    /// One line: the invariant, the detail, the process, address, folio and operation.
    public var description: String {
        var s = "\(invariant): \(detail) [process \(process)"
        if let a = address { s += ", addr 0x" + String(a, radix: 16) }
        if let f = folio { s += ", folio \(f)" }
        return s + ", after \(operation)]"
    }
}

/// Receives scheduling points. Nil in `World.hooks` means run-to-completion: no kernel path
/// ever suspends.
///
/// A point is split in a synchronous part and a wait, so that a thread that goes on at once
/// pays no `await`: an awaited call through the protocol is followed by an executor hop that
/// costs a runtime lock (measured with perf: 6 % of the explorer's time).
package protocol SchedulingHooks: AnyObject {
    /// Called before each atomic step of `thread`: `point` names the kernel function and the
    /// object the step touches, and whether it writes it. Returns true when the thread must
    /// `wait` before it takes the step.
    func reach(_ thread: SimThread, _ point: SchedPoint) -> Bool
    /// Called when `thread` finds `resource` taken; returns true when it must `wait` before it
    /// tries again. The thread is not runnable until the resource is released.
    func reachBlocked(_ thread: SimThread, on resource: LockResource) -> Bool
    /// Suspends `thread` until it is chosen to go on.
    func wait(_ thread: SimThread) async
}

/// The whole simulated machine: physical memory, page tables, address spaces, files, swap,
/// the rule switches in force, statistics, pins and the trace.
public final class World {
    package let memory: PhysicalMemory
    package let tables: PageTableStore
    /// The checker's record of what user space wrote through each PTE (instrumentation: kernel
    /// paths only report to it, through `userData`).
    let shadow: WrittenShadow
    /// The user-data tracepoints kernel paths report to.
    var userData: any UserDataEvents { shadow }
    package internal(set) var mms: [MM] = []
    /// The address spaces not yet torn down, in index order (the task list that
    /// `for_each_process` walks: an exited process leaves it), so that what visits every live
    /// process costs the processes alive, not all that ever lived.
    package internal(set) var liveMMs: [MM] = []
    package internal(set) var threads: [SimThread] = []
    package internal(set) var files: [SimFile] = []
    package let swap: SwapDevice
    package var semantics: Semantics
    package var thp: THPSettings { didSet { updateTHPMasks() } }
    /// `thp.sysfsMask` without and with VM_HUGEPAGE, computed when the settings change.
    var thpMaskPlain: UInt32 = 0
    var thpMaskHugepage: UInt32 = 0
    /// The pins simulated drivers hold.
    let pinTable: PinTable
    /// What the user did to its mappings (for the pin checks; not kernel state).
    package let userActivity: UserActivity
    /// The deferred split queue (`deferred_split_queue`), in queueing order. Entries whose
    /// folio was freed are dropped lazily.
    private var deferredSplit: [PFN] = []
    package var hooks: SchedulingHooks?
    /// Records what each step touches while an explorer runs (nil otherwise).
    package var log: AccessLog? {
        didSet {
            memory.log = log
            swap.log = log
            tables.log = log
            pinTable.log = log
            for mm in mms { mm.log = log }
            if log != nil { accessLogsEverAttached = true }
        }
    }
    package var tracer: Tracer?
    package internal(set) var violations: [Violation] = []
    var reportedKeys: Set<String> = []
    /// Invariants not to report (`explore --ignore`).
    package var ignoredInvariants: Set<String> = []
    /// How `checkInvariants` works; a copy of a world starts with full checks.
    package var checkStrategy = CheckStrategy.full
    /// Whether the checker also walks the 2 MiB units that no PMD table covers (they map
    /// nothing): the dense walk, which the sparse one must agree with (SparseWalkTests).
    package var checkWalksEmptyUnits = false
    /// What the last check derived, while checks are incremental.
    var checkState: CheckState?
    /// While an incremental check runs, `report` only notes that there is something to report.
    var probing = false
    var probeFound = false
    /// Folios added to a pagecache since the last check, while checks are incremental.
    var pagecacheAdded: [UInt32] = []
    /// With `CheckStrategy.audit`: what the frames, tables and slots held at the last check,
    /// and every disagreement found between the incremental and the full check.
    var auditSnapshot: CheckAuditSnapshot?
    /// With `CheckStrategy.audit`: every disagreement found between the incremental and the full check.
    public internal(set) var auditFailures: [String] = []
    /// Checks done incrementally, full checks, incremental checks that fell back to one, and
    /// full checks because a step changed too much to note.
    public internal(set) var checkCounts = (incremental: 0, full: 0, fallback: 0, overflow: 0)
    /// The checks' work: 2 MiB units whose mappings were checked, folios checked, address
    /// spaces walked or revisited.
    package internal(set) var checkWork = (units: 0, folios: 0, mms: 0)
    /// Counters of work done on behalf of no process (reclaim's splits).
    let systemCounters: UnsafeMutablePointer<Int>
    /// Description of the operation in progress, for violation reports.
    package var currentOperation: String {
        get { operation.description }
        set { operation = .text(newValue) }
    }
    /// The operation in progress, described only when a violation is reported.
    package var operation = OperationLabel.text("boot")
    var nextAnonVMA: Int32 = 1

    package init(memoryBytes: UInt64, swapBytes: UInt64 = 0, semantics: Semantics = .v6_18,
                thp: THPSettings = THPSettings()) {
        memory = PhysicalMemory(bytes: memoryBytes)
        tables = PageTableStore()
        swap = SwapDevice(slots: Int(swapBytes / Geometry.pageSize))
        pinTable = PinTable(memory: memory)
        userActivity = UserActivity()
        shadow = WrittenShadow(tables: tables)
        tables.userData = shadow
        self.semantics = semantics
        self.thp = thp
        systemCounters = Counter.allocate()
        updateTHPMasks()
    }

    /// A deep copy of a world at rest, for the explorer: every run of a config starts from a
    /// copy of the world after its `steps` instead of replaying them. Scheduler, access log
    /// and tracer are not copied. Every stored property of the model must be copied here.
    package init(copying o: World) {
        memory = PhysicalMemory(copying: o.memory)
        tables = PageTableStore(copying: o.tables)
        swap = SwapDevice(copying: o.swap)
        shadow = WrittenShadow(copying: o.shadow, tables: tables)
        tables.userData = shadow
        semantics = o.semantics
        thp = o.thp
        thpMaskPlain = o.thpMaskPlain
        thpMaskHugepage = o.thpMaskHugepage
        let mms = o.mms.map(MM.init(copying:))
        self.mms = mms
        liveMMs = o.liveMMs.map { mms[$0.index] }
        threads = o.threads.map { SimThread(id: $0.id, name: $0.name, mm: mms[$0.mm.index]) }
        files = o.files.map(SimFile.init(copying:))
        pinTable = PinTable(copying: o.pinTable, memory: memory)
        userActivity = UserActivity(copying: o.userActivity)
        deferredSplit = o.deferredSplit
        violations = o.violations
        reportedKeys = o.reportedKeys
        ignoredInvariants = o.ignoredInvariants
        systemCounters = Counter.allocate(copying: o.systemCounters)
        operation = o.operation
        nextAnonVMA = o.nextAnonVMA
    }

    deinit {
        systemCounters.deallocate()
    }

    func updateTHPMasks() {
        thpMaskPlain = thp.sysfsMask(vmaHugepage: false)
        thpMaskHugepage = thp.sysfsMask(vmaHugepage: true)
    }

    /// Bytes of simulator memory held by the model (memmap, page tables with the checker
    /// shadow, large-folio side table, swap slots).
    package var footprintBytes: Int {
        memory.usedFrameCount * MemoryLayout<Frame>.stride
            + memory.peekLarge.capacity * MemoryLayout<LargeFolioMeta>.stride
            + tables.footprintBytes + shadow.footprintBytes + swap.footprintBytes
    }

    // MARK: scheduling and tracing

    /// A scheduling point: another thread may run here. Free when no scheduler is attached.
    /// No closure may be passed here: in an async function its context is a task allocation,
    /// which `foliosim run` would pay at every point. Compute an expensive `object` only under
    /// `if hooks != nil`.
    /// The point itself is out of line, so that each inlined call site stays a branch and the
    /// fault chain stays small enough to be inlined (one async frame per call that is not).
    /// `lock` names the lock a release or trylock point is about (in a trace only); a
    /// `LockName` value, not a closure, for the reason above.
    @inline(__always) func schedule(_ t: SimThread, _ function: StaticString, _ step: StaticString,
                                    _ object: PointObject, _ access: PointAccess, lock: LockName? = nil) async {
        if hooks != nil { await schedulePoint(t, function, step, object, access, lock: lock) }
    }
    /// The point under a scheduler; `lock` names the lock a release point releases (in a
    /// trace only). It takes the point's parts rather than a `SchedPoint`: built at each
    /// inlined call site, that value was a slot of the caller's async frame, and every resume
    /// of the frame recomputed the address of every such slot.
    @inline(never) func schedulePoint(_ t: SimThread, _ function: StaticString, _ step: StaticString,
                                      _ object: PointObject, _ access: PointAccess, lock: LockName? = nil) async {
        let name = tracer != nil ? lock.map(lockText) : nil
        guard let h = hooks, h.reach(t, SchedPoint(function, step, object, access, lockName: name)) else { return }
        await h.wait(t)
    }

    /// Records a trace line `thread function: what` when tracing is on.
    @inline(__always) func trace(_ t: SimThread, _ function: StaticString, _ what: @autoclosure () -> String) {
        if let tr = tracer { tr.record(thread: t.name, function: "\(function)", what: what()) }
    }

    /// `folio_put` from a kernel path, with a trace line of what it did to the reference count
    /// (`pfn 5 ref 2→1`, or that it freed the folio). The count is read raw, so tracing adds
    /// nothing to a step's footprint.
    @discardableResult
    @inline(__always) func folioPut(_ t: SimThread, _ function: StaticString, _ folio: PFN, _ n: Int32 = 1) -> Bool {
        guard _slowPath(tracer != nil) else { return memory.folioPut(folio, n) }
        let before = memory.frames[folio.index].ref  // read raw: tracing adds nothing to the footprint
        let freed = memory.folioPut(folio, n)
        trace(t, function, freed ? "\(folio) ref \(before)→0: freed" : "\(folio) ref \(before)→\(before - n)")
        return freed
    }

    /// Records a violation once per (invariant, process, address, folio): a broken state that
    /// persists is reported where it was first seen.
    func report(_ invariant: Invariant, _ mm: MM?, addr: UInt64? = nil, folio: PFN? = nil, _ detail: String) {
        guard invariant.applies(under: semantics), ignoredInvariants.isEmpty || !ignoredInvariants.contains(invariant.rawValue) else { return }
        if probing {
            probeFound = true
            return
        }
        let key = "\(invariant.rawValue)|\(mm?.index ?? -1)|\(addr ?? UInt64.max)|\(folio?.raw ?? UInt32.max)"
        guard reportedKeys.insert(key).inserted else { return }
        violations.append(Violation(invariant: invariant.rawValue, process: mm?.name ?? "-", address: addr,
                                    folio: folio, operation: currentOperation, detail: detail))
    }

    // MARK: processes

    /// Creates a process with an empty address space and one thread named like it.
    package func createProcess(name: String) -> SimThread? {
        if _slowPath(accessLogging), let l = log { l.note(.processes, write: true) }
        guard let pgdPage = allocPageTablePage() else { return nil }
        let pgd = tables.newUpperTable(backing: pgdPage)
        let mm = MM(index: mms.count, name: name, pgd: pgd)
        mm.log = log
        mms.append(mm)
        liveMMs.append(mm)
        return addThread(name: name, mm: mm)
    }

    /// Adds a thread to `mm` (a CLONE_VM thread).
    package func addThread(name: String, mm: MM) -> SimThread {
        let t = SimThread(id: Int32(threads.count + 1), name: name, mm: mm)
        threads.append(t)
        return t
    }

    package func mm(named name: String) -> MM? { mms.last { $0.name == name && $0.alive } }

    /// `deferred_split_folio`'s `list_add_tail`: queues a folio.
    func enqueueDeferredSplit(_ folio: PFN) {
        if _slowPath(accessLogging), let l = log { l.note(.deferredSplit, write: true) }
        deferredSplit.append(folio)
    }
    /// Folios on the deferred split queue, oldest first (entries whose folio left the queue
    /// or was freed are dropped lazily, as here).
    package var deferredSplitQueue: [PFN] {
        if _slowPath(accessLogging), let l = log { l.note(.deferredSplit, write: false, value: UInt64(deferredSplit.count)) }
        var seen = Set<UInt32>()
        return deferredSplit.filter { memory.test($0, PageFlag.deferredQueued) && seen.insert($0.raw).inserted }
    }

    /// The queue as the checker reads it (unlogged).
    var deferredSplitQueuePeek: [PFN] { deferredSplit }

    /// `anon_vma_prepare`'s allocation of a new anon_vma (an id).
    func newAnonVMA() -> Int32 {
        if _slowPath(accessLogging), let l = log { l.note(.anonVMAIds, write: true) }
        nextAnonVMA += 1
        return nextAnonVMA - 1
    }

    @inline(__always) func countFault(_ mm: MM, _ kind: FaultKind) { mm.counters[kind.index] += 1 }
    @inline(__always) func countMTHP(_ mm: MM?, order: Int, _ which: MTHPCounter) {
        (mm?.counters ?? systemCounters)[Counter.mthp(order, which)] += 1
    }
    @inline(__always) func count(_ mm: MM, _ counter: Int, _ n: Int = 1) { mm.counters[counter] += n }

    /// The sum of every process's counters and of the work done for no process (reclaim).
    package var totalStats: ProcessStats {
        let sum = Counter.allocate(copying: systemCounters)
        defer { sum.deallocate() }
        for mm in mms {
            for i in 0..<Counter.count { sum[i] += mm.counters[i] }
        }
        return ProcessStats(counters: sum)
    }
}

extension World {
    /// Records a violation found outside the kernel paths (a config expectation).
    package func recordViolation(_ invariant: Invariant, _ mm: MM?, addr: UInt64? = nil, folio: PFN? = nil, _ detail: String) {
        report(invariant, mm, addr: addr, folio: folio, detail)
    }
}
