/// What kind of fault `handle_mm_fault` handled, decided by the path that did the work.
public enum FaultKind: String, CaseIterable, Sendable {
    /// `do_anonymous_page` or the PMD THP fault installed a new anon folio.
    case anonymous
    /// A read fault mapped the shared zero page or the huge zero folio.
    case zeropage
    /// `do_wp_page` reused the page (`wp_page_reuse`).
    case wpReuse
    /// `do_wp_page` copied (`wp_page_copy`), for a write.
    case wpCopy
    /// A FAULT_FLAG_UNSHARE fault (GUP R/O pin on a possibly shared page), reused or copied.
    case unshare
    /// `do_swap_page`.
    case swapin
    /// `do_read_fault` / `do_shared_fault`: a pagecache page was mapped.
    case file
    /// `do_cow_fault`: a write to an unmapped page of a private file mapping.
    case fileCOW
    /// The PTE already allowed the access (only young/dirty were set).
    case spurious
    /// The fault changed nothing because the PTE changed meanwhile (revalidation failed).
    case retry
    /// VM_FAULT_OOM, SIGBUS or SIGSEGV. Not part of `faultsTotal` (`ru_minflt` skips them too).
    case error

    var index: Int {
        switch self {
        case .anonymous: 0
        case .zeropage: 1
        case .wpReuse: 2
        case .wpCopy: 3
        case .unshare: 4
        case .swapin: 5
        case .file: 6
        case .fileCOW: 7
        case .spurious: 8
        case .retry: 9
        case .error: 10
        }
    }
}

/// The per-size counters of `/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/stats`
/// that FolioSim models (event counters).
package struct MTHPCounters: Sendable, Equatable {
    package var anonFaultAlloc = 0
    package var anonFaultFallback = 0
    package var split = 0
    package var splitFailed = 0
    package var splitDeferred = 0
    package var swpout = 0
    package var swpoutFallback = 0
    package var swpin = 0
    /// All zero.
    package init() {}
    package init(anonFaultAlloc: Int, anonFaultFallback: Int, split: Int, splitFailed: Int, splitDeferred: Int,
                 swpout: Int, swpoutFallback: Int, swpin: Int) {
        self.anonFaultAlloc = anonFaultAlloc; self.anonFaultFallback = anonFaultFallback; self.split = split
        self.splitFailed = splitFailed; self.splitDeferred = splitDeferred; self.swpout = swpout
        self.swpoutFallback = swpoutFallback; self.swpin = swpin
    }

    package static let names = ["anon_fault_alloc", "anon_fault_fallback", "split", "split_failed",
                               "split_deferred", "swpout", "swpout_fallback", "swpin"]
    package var values: [Int] {
        [anonFaultAlloc, anonFaultFallback, split, splitFailed, splitDeferred, swpout, swpoutFallback, swpin]
    }
}

extension MTHPCounters {
    /// The counters in the order of `names`.
    package init(values v: [Int]) {
        self.init(anonFaultAlloc: v[0], anonFaultFallback: v[1], split: v[2], splitFailed: v[3],
                  splitDeferred: v[4], swpout: v[5], swpoutFallback: v[6], swpin: v[7])
    }
    package static func + (a: MTHPCounters, b: MTHPCounters) -> MTHPCounters {
        MTHPCounters(values: zip(a.values, b.values).map { $0 + $1 })
    }
    package static func - (a: MTHPCounters, b: MTHPCounters) -> MTHPCounters {
        MTHPCounters(values: zip(a.values, b.values).map { $0 - $1 })
    }
}

/// Event counters of one process (or, summed, of the whole run).
public struct ProcessStats: Sendable, Equatable {
    /// Faults by kind; `faultsTotal` counts the `handle_mm_fault` calls that did not fail or
    /// retry (like `ru_minflt` + `ru_majflt`, which also count faults GUP takes for the task).
    package var faults: [Int] = Array(repeating: 0, count: FaultKind.allCases.count)
    /// Faults handled (`ru_minflt` + `ru_majflt`).
    public var faultsTotal = 0
    /// Indexed by order.
    package var mthp: [MTHPCounters] = Array(repeating: MTHPCounters(), count: Geometry.pmdOrder + 1)
    /// Bytes copied from an old page into a new one by COW (`wp_page_copy`, including
    /// unsharing); zero-page "copies" are zero fills and do not count.
    public var cowCopiedBytes: UInt64 = 0
    /// Bytes copied at fork for possibly pinned pages (`copy_present_page`).
    public var forkCopiedBytes: UInt64 = 0
    /// Pages allocated by fault paths (anon faults, COW, unshare, swap-in).
    public var pagesAllocated = 0

    package init() {}

    /// Faults of one kind.
    public func faults(_ kind: FaultKind) -> Int { faults[kind.index] }

    package static func + (a: ProcessStats, b: ProcessStats) -> ProcessStats {
        var r = ProcessStats()
        r.faults = zip(a.faults, b.faults).map { $0 + $1 }
        r.faultsTotal = a.faultsTotal + b.faultsTotal
        r.mthp = zip(a.mthp, b.mthp).map { $0 + $1 }
        r.cowCopiedBytes = a.cowCopiedBytes + b.cowCopiedBytes
        r.forkCopiedBytes = a.forkCopiedBytes + b.forkCopiedBytes
        r.pagesAllocated = a.pagesAllocated + b.pagesAllocated
        return r
    }
}

/// Where each counter lives in an mm's flat counter buffer (`MM.counters`): the fault paths
/// bump plain memory instead of nested arrays.
enum Counter {
    /// A buffer of every counter: zeroed, or a copy of `from` (the explorer's snapshot).
    static func allocate(copying from: UnsafeMutablePointer<Int>? = nil) -> UnsafeMutablePointer<Int> {
        let p = UnsafeMutablePointer<Int>.allocate(capacity: count)
        if let from { p.initialize(from: from, count: count) } else { p.initialize(repeating: 0, count: count) }
        return p
    }
    static let faultsTotal = 11
    static let cowCopiedBytes = 12
    static let forkCopiedBytes = 13
    static let pagesAllocated = 14
    static let mthpBase = 16
    static let perOrder = 8
    static let count = mthpBase + perOrder * (Geometry.pmdOrder + 1)
    static func mthp(_ order: Int, _ which: MTHPCounter) -> Int { mthpBase + order * perOrder + which.rawValue }
}

/// The mTHP event counters, in `MTHPCounters.names` order.
enum MTHPCounter: Int {
    case anonFaultAlloc, anonFaultFallback, split, splitFailed, splitDeferred, swpout, swpoutFallback, swpin
}

extension ProcessStats {
    /// Reads an mm's counter buffer.
    init(counters c: UnsafeMutablePointer<Int>) {
        self.init()
        faults = FaultKind.allCases.map { c[$0.index] }
        faultsTotal = c[Counter.faultsTotal]
        cowCopiedBytes = UInt64(c[Counter.cowCopiedBytes])
        forkCopiedBytes = UInt64(c[Counter.forkCopiedBytes])
        pagesAllocated = c[Counter.pagesAllocated]
        mthp = (0...Geometry.pmdOrder).map { o in
            let b = Counter.mthpBase + o * Counter.perOrder
            return MTHPCounters(anonFaultAlloc: c[b], anonFaultFallback: c[b + 1], split: c[b + 2], splitFailed: c[b + 3],
                                splitDeferred: c[b + 4], swpout: c[b + 5], swpoutFallback: c[b + 6], swpin: c[b + 7])
        }
    }
}
