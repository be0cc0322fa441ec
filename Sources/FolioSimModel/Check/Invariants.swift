/// The named invariants (KERNEL.md §9). Each has a stable name; a violation names the
/// invariant, the process, the address, the folio and the operation after which it was found.
public enum Invariant: String, CaseIterable, Sendable {
    /// I1: a writable PTE or PMD mapping an anon page implies PageAnonExclusive.
    case writablePTEImpliesExclusive = "writable-pte-implies-exclusive"
    /// I2: an AE page is mapped at most once (so by at most one mm).
    case exclusivePageMappedOnce = "exclusive-page-mapped-once"
    /// I3: a page reachable through a swap PTE is never AE.
    case swapPageNotExclusive = "swap-page-not-exclusive"
    /// I4: a FOLL_PIN'ed anon page is AE…
    case pinnedPageExclusive = "pinned-page-exclusive"
    /// I4: …and stays the page mapped at the pinned address until the user unmaps it.
    case pinStaysMapped = "pin-stays-mapped"
    /// I7: the refcount covers every mapping, pin, swapcache and pagecache reference.
    case refcountCoversMappings = "refcount-covers-mappings"
    /// At a quiescent point no reference is unaccounted for (a leak).
    case refcountBalanced = "refcount-balanced"
    /// I8: per-page, large and entire mapcounts and `_nr_pages_mapped` equal the mappings.
    case mapcountMatchesMappings = "mapcount-matches-mappings"
    /// I8 (6.15): with the shared bit clear, one mm maps the folio and owns all mappings.
    case mmIDOwner = "mm-id-owner"
    /// I9: the zero pages are mapped read-only and special, with no accounting.
    case zeroPageReadOnly = "zero-page-read-only"
    /// I13: write_protect_seq is even outside fork.
    case writeProtectSeq = "write-protect-seq"
    /// I14: an mm with a FOLL_PIN'ed page has MMF_HAS_PINNED.
    case hasPinnedSet = "has-pinned-set"
    /// No write that completed is lost; untouched anon memory reads zero.
    case noLostWrite = "no-lost-write"
    /// Every mapped page belongs to an allocated folio (no use-after-free).
    case noUseAfterFree = "no-use-after-free"
    /// A partially mapped anon large folio is on the deferred split queue.
    case deferredSplitQueued = "deferred-split-queued"
    /// MM_ANONPAGES / MM_FILEPAGES / MM_SWAPENTS equal the mappings (`check_mm`).
    case rssCounters = "rss-counters"
    /// A swap slot's count equals the swap PTEs that refer to it.
    case swapCount = "swap-count"
    /// No lock is held between operations.
    case locksReleased = "locks-released"
    /// I11: an UNSHARE fault never creates a writable PTE.
    case unshareNeverWritable = "unshare-never-writable"
    /// I11: FAULT_FLAG_UNSHARE never comes with FAULT_FLAG_WRITE.
    case faultFlagsExclusive = "fault-flags-exclusive"
    /// A lock was taken in the wrong order or would block forever.
    case lockOrder = "lock-order"
    /// An access or GUP kept faulting without progress.
    case faultProgress = "fault-progress"
    /// A `read` op with `expect` saw another value.
    case readValue = "read-value"
    /// A `checkPin` op: the pin and the address no longer see the same page or data (I5).
    case pinCoherent = "pin-coherent"
    /// No path reads or writes the data, flags or counts of a freed frame.
    case useAfterFree = "use-after-free"
    /// Refcounts, mapcounts and pincounts never go below zero.
    case countsNonNegative = "counts-non-negative"
    /// Some thread is still running but none can take a step (all wait for locks).
    case deadlock = "deadlock"

    /// Whether the invariant must hold after every scheduling step, or only at rest (when no
    /// operation is in flight: counts balance, locks are free, writes have landed).
    package var holdsAtEveryStep: Bool {
        switch self {
        case .writablePTEImpliesExclusive, .exclusivePageMappedOnce, .pinnedPageExclusive, .countsNonNegative,
             .useAfterFree, .noUseAfterFree, .unshareNeverWritable, .faultFlagsExclusive, .deadlock, .zeroPageReadOnly:
            true
        default:
            false
        }
    }

    /// Whether the invariant is part of the rules `semantics` describes. Those stated in
    /// terms of PageAnonExclusive and FAULT_FLAG_UNSHARE exist from 5.19 on; MM-ID ownership
    /// from 6.15. Under older rules the checker does not look for them: what they guard was
    /// not promised then, and the selftest reports its absence as an outcome.
    package func applies(under semantics: Semantics) -> Bool {
        switch self {
        case .writablePTEImpliesExclusive, .exclusivePageMappedOnce, .swapPageNotExclusive, .pinnedPageExclusive,
             .unshareNeverWritable, .faultFlagsExclusive:
            semantics.hasAnonExclusive
        case .mmIDOwner:
            semantics.anonReuse == .aeMMID
        default:
            true
        }
    }

    package var summary: String {
        switch self {
        case .writablePTEImpliesExclusive: "a writable PTE/PMD mapping an anon page implies PageAnonExclusive (I1)"
        case .exclusivePageMappedOnce: "a PageAnonExclusive page is mapped at most once (I2)"
        case .swapPageNotExclusive: "a page reachable through a swap PTE is never PageAnonExclusive (I3)"
        case .pinnedPageExclusive: "a FOLL_PIN'ed anon page is PageAnonExclusive (I4)"
        case .pinStaysMapped: "a pinned anon page stays mapped at the pinned address until the user unmaps it (I4)"
        case .refcountCoversMappings: "refcount >= mappings + pins + swapcache + pagecache references (I7)"
        case .refcountBalanced: "between operations every reference is accounted for (no leak)"
        case .mapcountMatchesMappings: "mapcounts equal the PTE/PMD mappings (I8)"
        case .mmIDOwner: "6.15 MM-ID owner slots agree with the mappings (I8)"
        case .zeroPageReadOnly: "the zero pages are only mapped read-only, special, unaccounted (I9)"
        case .writeProtectSeq: "write_protect_seq is odd only inside fork's copy (I13)"
        case .hasPinnedSet: "an mm with a FOLL_PIN'ed page has MMF_HAS_PINNED (I14)"
        case .noLostWrite: "a page mapped at an address holds the last value written there"
        case .noUseAfterFree: "every mapped page belongs to an allocated folio"
        case .deferredSplitQueued: "a partially mapped anon large folio is on the deferred split queue"
        case .rssCounters: "RSS counters equal the mappings"
        case .swapCount: "swap counts equal the swap PTEs"
        case .locksReleased: "no lock is held between operations"
        case .unshareNeverWritable: "an unshare fault never maps a page writable (I11)"
        case .faultFlagsExclusive: "FAULT_FLAG_UNSHARE never comes with FAULT_FLAG_WRITE (I11)"
        case .lockOrder: "locks are taken in order and never block a single-threaded run"
        case .faultProgress: "an access or GUP succeeds after a bounded number of faults"
        case .readValue: "a read returns the value the config expects"
        case .pinCoherent: "a pin and its address see the same page and data (I5)"
        case .useAfterFree: "no path uses the data, flags or counts of a freed frame"
        case .countsNonNegative: "refcounts, mapcounts and pincounts never go below zero"
        case .deadlock: "some thread can always run until all are done"
        }
    }
}
