/// `vm_flags` bits that matter for anonymous memory (KERNEL.md §1.2).
package struct VMFlags: OptionSet, Hashable, Sendable {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `SetAlgebra.contains`, always inlined: the generic default was a call per fault.
    @inline(__always) package func contains(_ member: VMFlags) -> Bool { rawValue & member.rawValue == member.rawValue }
    package static let read = VMFlags(rawValue: 1 << 0)
    package static let write = VMFlags(rawValue: 1 << 1)
    package static let exec = VMFlags(rawValue: 1 << 2)
    package static let shared = VMFlags(rawValue: 1 << 3)
    package static let mayRead = VMFlags(rawValue: 1 << 4)
    package static let mayWrite = VMFlags(rawValue: 1 << 5)
    package static let mayExec = VMFlags(rawValue: 1 << 6)
    package static let mayShare = VMFlags(rawValue: 1 << 7)
    /// MADV_HUGEPAGE.
    package static let hugepage = VMFlags(rawValue: 1 << 8)
    /// MADV_NOHUGEPAGE.
    package static let noHugepage = VMFlags(rawValue: 1 << 9)
    /// MADV_DONTFORK.
    package static let dontCopy = VMFlags(rawValue: 1 << 10)
    /// MADV_WIPEONFORK.
    package static let wipeOnFork = VMFlags(rawValue: 1 << 11)
    package static let locked = VMFlags(rawValue: 1 << 12)
    package static let softDirty = VMFlags(rawValue: 1 << 13)
    package static let uffdMissing = VMFlags(rawValue: 1 << 14)
    package static let uffdWp = VMFlags(rawValue: 1 << 15)
    package static let pfnMap = VMFlags(rawValue: 1 << 16)
    package static let io = VMFlags(rawValue: 1 << 17)

    static let names: [(VMFlags, String)] = [
        (.read, "rd"), (.write, "wr"), (.exec, "ex"), (.shared, "sh"), (.mayRead, "mr"),
        (.mayWrite, "mw"), (.mayExec, "me"), (.mayShare, "ms"), (.hugepage, "hg"),
        (.noHugepage, "nh"), (.dontCopy, "dc"), (.wipeOnFork, "wf"), (.locked, "lo"),
        (.softDirty, "sd"), (.uffdMissing, "um"), (.uffdWp, "uw"), (.pfnMap, "pf"), (.io, "io"),
    ]
    /// The two-letter names of /proc/PID/smaps "VmFlags".
    package var smapsNames: String { Self.names.filter { contains($0.0) }.map(\.1).joined(separator: " ") }
}

/// What backs a VMA.
package enum VMABacking: Hashable, Sendable {
    case anonymous
    /// A file (index into `World.files`).
    case file(Int)
}

/// A virtual memory area (`vm_area_struct`), a value.
package struct VMA: Hashable, Sendable {
    package var start: UInt64
    package var end: UInt64
    package var flags: VMFlags
    package var backing: VMABacking
    /// `vm_pgoff`: for anonymous VMAs the linear page index of `start` at creation (kept across
    /// mremap, like the kernel, so that rmap can find a folio's address from its index).
    package var pgoff: UInt64
    /// Identifier of the anon_vma (0 = none yet, `anon_vma_prepare` has not run).
    package var anonVMA: Int32
    /// Whether the VMA's anon_vma chain links a parent's anon_vma as well as its own (fork
    /// copied it with `anon_vma_fork`), which keeps it from merging with a VMA that has no
    /// anon_vma (`vma_had_uncowed_parents`).
    package var anonVMAInherited = false
    /// Identity of this VMA within its mm (0 until inserted): a VMA that is split, moved or
    /// created anew gets a new id, as the kernel allocates a new `vm_area_struct`. Faults and
    /// GUP that dropped a lock find their VMA again by it.
    package var id: Int32 = 0
    /// Unused: it makes a VMA 64 bytes. At 60, a copy was four overlapping 16-byte moves, and
    /// the fault path, which copies a VMA from the mm's list into its `VMFault`, stalled on
    /// each read-back of such a copy, which store forwarding cannot serve (perf: about a
    /// tenth of the access loop's time, 2026-12-04).
    private var padding: UInt32 = 0

    package init(start: UInt64, end: UInt64, flags: VMFlags, backing: VMABacking, pgoff: UInt64, anonVMA: Int32 = 0) {
        self.start = start; self.end = end; self.flags = flags; self.backing = backing
        self.pgoff = pgoff; self.anonVMA = anonVMA
    }

    package var size: UInt64 { end - start }
    @inline(__always) package func contains(_ addr: UInt64) -> Bool { addr >= start && addr < end }
    package var isAnonymous: Bool { if case .anonymous = backing { return true }; return false }
    package var fileIndex: Int? { if case .file(let f) = backing { return f }; return nil }
    /// `is_cow_mapping`: VM_MAYWRITE set and VM_SHARED clear.
    @inline(__always) package var isCOWMapping: Bool { flags.contains(.mayWrite) && !flags.contains(.shared) }
    @inline(__always) package var isShared: Bool { flags.contains(.shared) || flags.contains(.mayShare) }
    /// `vm_page_prot` has write only for shared writable mappings: a private mapping gets write
    /// per PTE from the fault paths or mprotect's upgrade rule (KERNEL.md §1.2).
    @inline(__always) package var pageProtWritable: Bool { flags.contains(.shared) && flags.contains(.write) }
    /// Linear page index of `addr` (`linear_page_index`).
    @inline(__always) package func pageIndex(_ addr: UInt64) -> UInt64 { pgoff + ((addr - start) >> Geometry.pageShift) }

    /// `is_mergeable_vma` + `can_vma_merge_after` + `is_mergeable_anon_vma` (mm/vma.c):
    /// whether `self` and `next`, which starts where `self` ends, can be one VMA: the same
    /// flags (VM_SOFTDIRTY aside, `VM_IGNORE_MERGE`), the same backing, contiguous pgoff, no
    /// VM_SPECIAL, and anon_vmas that are one, or none on one side and, on the other, one not
    /// inherited through fork. Left out: mempolicies, userfaultfd contexts and anon VMA names,
    /// which FolioSim does not model (every VMA has none).
    package func canMerge(with next: VMA) -> Bool {
        end == next.start && flags.subtracting(.softDirty) == next.flags.subtracting(.softDirty)
            && !flags.contains(.pfnMap) && !flags.contains(.io)
            && backing == next.backing && pageIndex(end) == next.pgoff && Self.anonVMAsMergeable(self, next)
    }

    /// `is_mergeable_anon_vma`: the same anon_vma, or one side without one and the other's
    /// not inherited from a parent.
    package static func anonVMAsMergeable(_ a: VMA, _ b: VMA) -> Bool {
        if a.anonVMA == b.anonVMA { return true }
        if a.anonVMA == 0 { return !b.anonVMAInherited }
        if b.anonVMA == 0 { return !a.anonVMAInherited }
        return false
    }
}
