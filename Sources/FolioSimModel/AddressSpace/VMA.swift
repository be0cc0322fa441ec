/// `vm_flags` bits that matter for anonymous memory (KERNEL.md §1.2).
public struct VMFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = VMFlags(rawValue: 1 << 0)
    public static let write = VMFlags(rawValue: 1 << 1)
    public static let exec = VMFlags(rawValue: 1 << 2)
    public static let shared = VMFlags(rawValue: 1 << 3)
    public static let mayRead = VMFlags(rawValue: 1 << 4)
    public static let mayWrite = VMFlags(rawValue: 1 << 5)
    public static let mayExec = VMFlags(rawValue: 1 << 6)
    public static let mayShare = VMFlags(rawValue: 1 << 7)
    /// MADV_HUGEPAGE.
    public static let hugepage = VMFlags(rawValue: 1 << 8)
    /// MADV_NOHUGEPAGE.
    public static let noHugepage = VMFlags(rawValue: 1 << 9)
    /// MADV_DONTFORK.
    public static let dontCopy = VMFlags(rawValue: 1 << 10)
    /// MADV_WIPEONFORK.
    public static let wipeOnFork = VMFlags(rawValue: 1 << 11)
    public static let locked = VMFlags(rawValue: 1 << 12)
    public static let softDirty = VMFlags(rawValue: 1 << 13)
    public static let uffdMissing = VMFlags(rawValue: 1 << 14)
    public static let uffdWp = VMFlags(rawValue: 1 << 15)
    public static let pfnMap = VMFlags(rawValue: 1 << 16)
    public static let io = VMFlags(rawValue: 1 << 17)

    static let names: [(VMFlags, String)] = [
        (.read, "rd"), (.write, "wr"), (.exec, "ex"), (.shared, "sh"), (.mayRead, "mr"),
        (.mayWrite, "mw"), (.mayExec, "me"), (.mayShare, "ms"), (.hugepage, "hg"),
        (.noHugepage, "nh"), (.dontCopy, "dc"), (.wipeOnFork, "wf"), (.locked, "lo"),
        (.softDirty, "sd"), (.uffdMissing, "um"), (.uffdWp, "uw"), (.pfnMap, "pf"), (.io, "io"),
    ]
    /// The two-letter names of /proc/PID/smaps "VmFlags".
    public var smapsNames: String { Self.names.filter { contains($0.0) }.map(\.1).joined(separator: " ") }
}

/// What backs a VMA.
public enum VMABacking: Hashable, Sendable {
    case anonymous
    /// A file (index into `World.files`).
    case file(Int)
}

/// A virtual memory area (`vm_area_struct`), a value.
public struct VMA: Hashable, Sendable {
    public var start: UInt64
    public var end: UInt64
    public var flags: VMFlags
    public var backing: VMABacking
    /// `vm_pgoff`: for anonymous VMAs the linear page index of `start` at creation (kept across
    /// mremap, like the kernel, so that rmap can find a folio's address from its index).
    public var pgoff: UInt64
    /// Identifier of the anon_vma (0 = none yet, `anon_vma_prepare` has not run).
    public var anonVMA: Int32
    /// Identity of this VMA within its mm (0 until inserted): a VMA that is split, moved or
    /// created anew gets a new id, as the kernel allocates a new `vm_area_struct`. Faults and
    /// GUP that dropped a lock find their VMA again by it.
    public var id: Int32 = 0

    public init(start: UInt64, end: UInt64, flags: VMFlags, backing: VMABacking, pgoff: UInt64, anonVMA: Int32 = 0) {
        self.start = start; self.end = end; self.flags = flags; self.backing = backing
        self.pgoff = pgoff; self.anonVMA = anonVMA
    }

    public var size: UInt64 { end - start }
    @inline(__always) public func contains(_ addr: UInt64) -> Bool { addr >= start && addr < end }
    public var isAnonymous: Bool { if case .anonymous = backing { return true }; return false }
    public var fileIndex: Int? { if case .file(let f) = backing { return f }; return nil }
    /// `is_cow_mapping`: VM_MAYWRITE set and VM_SHARED clear.
    @inline(__always) public var isCOWMapping: Bool { flags.contains(.mayWrite) && !flags.contains(.shared) }
    @inline(__always) public var isShared: Bool { flags.contains(.shared) || flags.contains(.mayShare) }
    /// `vm_page_prot` has write only for shared writable mappings: a private mapping gets write
    /// per PTE from the fault paths or mprotect's upgrade rule (KERNEL.md §1.2).
    @inline(__always) public var pageProtWritable: Bool { flags.contains(.shared) && flags.contains(.write) }
    /// Linear page index of `addr` (`linear_page_index`).
    @inline(__always) public func pageIndex(_ addr: UInt64) -> UInt64 { pgoff + ((addr - start) >> Geometry.pageShift) }
}
