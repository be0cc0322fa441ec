/// `FAULT_FLAG_*`.
public struct FaultFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = FaultFlags(rawValue: 1 << 0)
    public static let unshare = FaultFlags(rawValue: 1 << 1)
    /// The fault comes from GUP (`faultin_page`), not from a CPU access.
    public static let remote = FaultFlags(rawValue: 1 << 2)
    public static let user = FaultFlags(rawValue: 1 << 3)
    /// `FAULT_FLAG_ORIG_PTE_VALID`.
    public static let origPTEValid = FaultFlags(rawValue: 1 << 4)
    /// `FAULT_FLAG_VMA_LOCK`: the fault holds the VMA's lock, not mmap_lock (6.4+).
    public static let vmaLock = FaultFlags(rawValue: 1 << 5)
}

/// `vm_fault_t` bits.
public struct VMFaultResult: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let oom = VMFaultResult(rawValue: 1 << 0)
    public static let sigbus = VMFaultResult(rawValue: 1 << 1)
    public static let sigsegv = VMFaultResult(rawValue: 1 << 2)
    public static let major = VMFaultResult(rawValue: 1 << 3)
    public static let retry = VMFaultResult(rawValue: 1 << 4)
    public static let fallback = VMFaultResult(rawValue: 1 << 5)
    public static let hwpoison = VMFaultResult(rawValue: 1 << 6)
    public static let error: VMFaultResult = [.oom, .sigbus, .sigsegv, .hwpoison]
    public var isError: Bool { !intersection(.error).isEmpty }
}

/// The state of one fault in flight (`struct vm_fault`). Kept in one value so that a thread's
/// position in a fault is data (for traces now, for state hashing later).
public struct VMFault {
    public var mm: MM
    /// The VMA at fault entry (a copy: it cannot change while the fault holds mmap_lock for
    /// read, or the VMA's own lock; other VMAs of the mm may change under a VMA lock, so the
    /// fault finds its VMA again by `vma.id`, never by index).
    public var vma: VMA
    /// Page-aligned faulting address.
    public var address: UInt64
    public var flags: FaultFlags
    /// PMD table covering the address.
    public var pmdTable: Int32 = 0
    /// The PTE slot, once a PTE table exists.
    public var slot: PTESlot?
    public var origPTE: PTE = .none
    public var origPMD: PMDEntry = .none
    /// `vmf->page` (`vm_normal_page` of `origPTE`), nil for the zero page and special PTEs.
    public var page: PFN?
    /// What the fault ended up doing, for the per-kind counters.
    public var kind: FaultKind = .spurious

    public var isWrite: Bool { flags.contains(.write) }
    public var isUnshare: Bool { flags.contains(.unshare) }
}
