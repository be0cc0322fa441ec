/// What a scheduling point's step touches: the object the kernel accesses at that point.
/// Partial-order reduction compares these (together with what the step really touched, see
/// `AccessLog`), and the trace names them.
public enum PointObject: Hashable, Sendable, CustomStringConvertible {
    /// `mmap_lock` of an mm (by index).
    case mmapLock(mm: Int)
    /// The split PTL of a PTE table.
    case ptl(table: Int32)
    /// The PMD lock of a PMD table.
    case pmdLock(table: Int32)
    /// `folio_lock` of a folio (head PFN).
    case folioLock(PFN)
    /// A folio's counts, flags and data (refcount, mapcounts, pincount, AE bits, contents).
    case folio(PFN)
    /// One PTE slot.
    case pte(PTESlot)
    /// A PMD table's entries.
    case pmd(table: Int32)
    /// `mm->write_protect_seq`.
    case seqcount(mm: Int)
    /// `mm->flags` (MMF_HAS_PINNED).
    case mmFlags(mm: Int)
    /// The table of pins held by simulated drivers (and GUP calls in flight).
    case pinTable
    /// The buddy allocator's free lists.
    case allocator
    /// The swap device (slots, counts, swapcache).
    case swap
    /// Not described: conflicts with every other step (the safe default).
    case unknown

    public var description: String {
        switch self {
        case .mmapLock(let mm): "mmap_lock(mm \(mm))"
        case .ptl(let t): "PTL(table \(t))"
        case .pmdLock(let t): "PMD lock(table \(t))"
        case .folioLock(let f): "folio lock(\(f))"
        case .folio(let f): "folio \(f)"
        case .pte(let s): "PTE(table \(s.table)[\(s.index)])"
        case .pmd(let t): "PMD table \(t)"
        case .seqcount(let mm): "write_protect_seq(mm \(mm))"
        case .mmFlags(let mm): "mm \(mm) flags"
        case .pinTable: "pin table"
        case .allocator: "buddy allocator"
        case .swap: "swap device"
        case .unknown: "anything"
        }
    }

    /// A compact key for conflict tests: kind in the top byte, the id below.
    @inline(__always) var key: UInt64 {
        switch self {
        case .mmapLock(let mm): 1 << 56 | UInt64(mm)
        case .ptl(let t): 2 << 56 | UInt64(UInt32(bitPattern: t))
        case .pmdLock(let t): 3 << 56 | UInt64(UInt32(bitPattern: t))
        case .folioLock(let f): 4 << 56 | UInt64(f.raw)
        case .folio(let f): 5 << 56 | UInt64(f.raw)
        case .pte(let s): 6 << 56 | UInt64(UInt32(bitPattern: s.table)) << 9 | UInt64(s.index & 511)
        case .pmd(let t): 7 << 56 | UInt64(UInt32(bitPattern: t))
        case .seqcount(let mm): 8 << 56 | UInt64(mm)
        case .mmFlags(let mm): 9 << 56 | UInt64(mm)
        case .pinTable: 10 << 56
        case .allocator: 11 << 56
        case .swap: 12 << 56
        case .unknown: AccessKey.unknownKey
        }
    }
}

enum AccessKey {
    static let unknownKey: UInt64 = 0xFF << 56
    static let folioKind: UInt64 = 5
}

/// Whether a step reads or writes the object of its point.
public enum PointAccess: Sendable {
    case read, write
}

/// One scheduling point: the kernel function, the object the following step touches, how,
/// and a short name of the step (`lock PTL`, `B3 grab folio`).
public struct SchedPoint: Sendable, CustomStringConvertible {
    public var function: StaticString
    public var object: PointObject
    public var access: PointAccess
    public var step: StaticString
    /// The lock this step takes, if it is an acquisition: the explorer does not run the step
    /// while the lock is held.
    public var acquires: LockResource?
    @inline(__always) public init(_ function: StaticString, _ step: StaticString, _ object: PointObject, _ access: PointAccess,
                                  acquires: LockResource? = nil) {
        self.function = function; self.step = step; self.object = object; self.access = access; self.acquires = acquires
    }
    public var description: String { "\(function): \(step) [\(access == .write ? "W" : "R") \(object)]" }
}
