/// `FAULT_FLAG_*`.
package struct FaultFlags: OptionSet, Hashable, Sendable {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `SetAlgebra.contains`, always inlined: the generic default was a call per fault.
    @inline(__always) package func contains(_ member: FaultFlags) -> Bool { rawValue & member.rawValue == member.rawValue }
    package static let write = FaultFlags(rawValue: 1 << 0)
    package static let unshare = FaultFlags(rawValue: 1 << 1)
    /// The fault comes from GUP (`faultin_page`), not from a CPU access.
    package static let remote = FaultFlags(rawValue: 1 << 2)
    package static let user = FaultFlags(rawValue: 1 << 3)
    /// `FAULT_FLAG_ORIG_PTE_VALID`.
    package static let origPTEValid = FaultFlags(rawValue: 1 << 4)
    /// `FAULT_FLAG_VMA_LOCK`: the fault holds the VMA's lock, not mmap_lock (6.4+).
    package static let vmaLock = FaultFlags(rawValue: 1 << 5)
}

/// `vm_fault_t` bits.
package struct VMFaultResult: OptionSet, Hashable, Sendable {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `SetAlgebra.contains`, always inlined: the generic default was a call per fault.
    @inline(__always) package func contains(_ member: VMFaultResult) -> Bool { rawValue & member.rawValue == member.rawValue }
    /// `vm_fault_t` 0: nothing to report. The fault was handled, or the entry changed under
    /// it and the access faults again. (Not `[]`: the empty literal built an array per
    /// fault, callgrind.)
    @inline(__always) package static var zero: VMFaultResult { VMFaultResult() }
    package static let oom = VMFaultResult(rawValue: 1 << 0)
    package static let sigbus = VMFaultResult(rawValue: 1 << 1)
    package static let sigsegv = VMFaultResult(rawValue: 1 << 2)
    package static let major = VMFaultResult(rawValue: 1 << 3)
    package static let retry = VMFaultResult(rawValue: 1 << 4)
    package static let fallback = VMFaultResult(rawValue: 1 << 5)
    package static let hwpoison = VMFaultResult(rawValue: 1 << 6)
    package static let error: VMFaultResult = [.oom, .sigbus, .sigsegv, .hwpoison]
    package var isError: Bool { !intersection(.error).isEmpty }
}

/// The state of one fault in flight (`struct vm_fault`). Kept in one value so that a thread's
/// position in a fault is data (for traces now, for state hashing later).
///
/// No `mm`: a fault's address space is its thread's (`t.mm`, the kernel's `current->mm`;
/// FolioSim has no remote GUP). A class reference here cost a retain when the fault began
/// and a release when it ended (perf, 16 GiB write: 5 % of the time).
package struct VMFault {
    /// The VMA at fault entry (a copy: it cannot change while the fault holds mmap_lock for
    /// read, or the VMA's own lock; other VMAs of the mm may change under a VMA lock, so the
    /// fault finds its VMA again by `vma.id`, never by index).
    package var vma: VMA
    /// Page-aligned faulting address.
    package var address: UInt64
    package var flags: FaultFlags
    /// PMD table covering the address.
    package var pmdTable: Int32 = 0
    /// The PTE slot, once a PTE table exists.
    package var slot: PTESlot?
    package var origPTE: PTE = .none
    package var origPMD: PMDEntry = .none
    /// `vmf->page` (`vm_normal_page` of `origPTE`), nil for the zero page and special PTEs.
    package var page: PFN?
    /// What the fault ended up doing, for the per-kind counters.
    package var kind: FaultKind = .spurious

    package var isWrite: Bool { flags.contains(.write) }
    package var isUnshare: Bool { flags.contains(.unshare) }
}
