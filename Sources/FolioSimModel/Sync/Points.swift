/// A piece of shared model state, as the explorer's footprints name it. Every accessor of
/// the model records the object it reads or writes (`AccessLog`), and every scheduling
/// point names the object its step starts with, so two steps conflict exactly when they
/// touch a common object and one of them writes it.
///
/// Granularity follows what the kernel protects separately: a folio's counts and flags
/// (`folio`) are apart from each page's own state (`page`: data word, per-page mapcount,
/// PageAnonExclusive, which folio the frame belongs to); every PTE and PMD entry is its own
/// object; allocators and queues are one object each.
package enum PointObject: Hashable, Sendable, CustomStringConvertible {
    /// `mmap_lock` of an mm (by index).
    case mmapLock(mm: Int)
    /// The per-VMA lock (6.4+ `vm_lock`) of the VMA with this id in an mm.
    case vmaLock(mm: Int, vma: Int32)
    /// The split PTL of a PTE table.
    case ptl(table: Int32)
    /// The PMD lock of a PMD table.
    case pmdLock(table: Int32)
    /// `folio_lock` of a folio (head PFN).
    case folioLock(PFN)
    /// A folio's own counts and flags: refcount, large/entire mapcounts, pincount, MM-ID
    /// slots, folio flags, swap slot (`folio->swap`). By head PFN.
    case folio(PFN)
    /// One frame's own state: the data word, the per-page mapcount, PageAnonExclusive and
    /// which folio it belongs to (allocation and order bits).
    case page(PFN)
    /// One PTE slot.
    case pte(PTESlot)
    /// One PMD entry (with the PTE table deposited for it); index 512 stands for whether the
    /// table holds any entry at all (written when an entry appears or goes).
    case pmd(table: Int32, index: Int)
    /// One PGD or PUD entry; index 512 as for `pmd`.
    case upper(table: Int32, index: Int)
    /// `mm->write_protect_seq`.
    case seqcount(mm: Int)
    /// `mm->flags` (MMF_HAS_PINNED).
    case mmFlags(mm: Int)
    /// The VMA tree of an mm and its VMAs' fields.
    case vmas(mm: Int)
    /// The pins kept on a folio: pages a driver holds, and pages a GUP call in flight has
    /// grabbed and kept (head PFN).
    case pins(PFN)
    /// The table of held pins and pipes (which ids exist).
    case pinTable
    /// The buddy allocator's free lists.
    case allocator
    /// The page-table store's free lists (which table ids are handed out).
    case tableAllocator
    /// One swap slot: its count, data and swapcache entry.
    case swapSlot(Int)
    /// The swap device's slot search and usage count.
    case swapAllocator
    /// The deferred split queue.
    case deferredSplit
    /// A file's pagecache index.
    case pagecache(file: Int)
    /// The process and file tables (fork creates an mm, exit ends one, mmap of a new file
    /// name creates a file).
    case processes
    /// The anon_vma id counter (`anon_vma_prepare`, fork).
    case anonVMAIds
    /// Page-table freeing in an mm: waits for GUP-fast walks (interrupts disabled) to end.
    case tableFree(mm: Int)
    /// Whether a thread of an explored run is between operations: the step that starts one of
    /// its operations writes it; the step that ends an operation of any other thread reads it.
    /// So an operation's start and another thread's operation end never commute, and every
    /// interleaving the reduction keeps passes through the same at-rest states
    /// (Execution.swift).
    case quiescence(thread: Int)
    /// Not described: conflicts with every other step (the safe default).
    case unknown

    package var description: String {
        switch self {
        case .mmapLock(let mm): "mmap_lock(mm \(mm))"
        case .vmaLock(let mm, let v): "vma_lock(mm \(mm), vma \(v))"
        case .ptl(let t): "PTL(table \(t))"
        case .pmdLock(let t): "PMD lock(table \(t))"
        case .folioLock(let f): "folio lock(\(f))"
        case .folio(let f): "folio \(f)"
        case .page(let p): "page \(p)"
        case .pte(let s): "PTE(table \(s.table)[\(s.index)])"
        case .pmd(let t, let i): "PMD(table \(t)[\(i)])"
        case .upper(let t, let i): "PGD/PUD(table \(t)[\(i)])"
        case .seqcount(let mm): "write_protect_seq(mm \(mm))"
        case .mmFlags(let mm): "mm \(mm) flags"
        case .vmas(let mm): "VMAs of mm \(mm)"
        case .pins(let f): "pins on \(f)"
        case .pinTable: "pin table"
        case .allocator: "buddy allocator"
        case .tableAllocator: "page-table allocator"
        case .swapSlot(let s): "swap slot \(s)"
        case .swapAllocator: "swap slot allocator"
        case .deferredSplit: "deferred split queue"
        case .pagecache(let f): "pagecache of file \(f)"
        case .processes: "process table"
        case .anonVMAIds: "anon_vma ids"
        case .tableFree(let mm): "page-table freeing (mm \(mm))"
        case .quiescence(let t): "operation boundary of thread \(t)"
        case .unknown: "anything"
        }
    }

    /// A compact key for conflict tests: kind in the top byte, the id below.
    @inline(__always) package var key: UInt64 {
        @inline(__always) func t(_ x: Int32) -> UInt64 { UInt64(UInt32(bitPattern: x)) }
        switch self {
        case .mmapLock(let mm): return 1 << 56 | UInt64(mm)
        case .vmaLock(let mm, let v): return 2 << 56 | UInt64(mm) << 32 | t(v)
        case .ptl(let x): return 3 << 56 | t(x)
        case .pmdLock(let x): return 4 << 56 | t(x)
        case .folioLock(let f): return 5 << 56 | UInt64(f.raw)
        case .folio(let f): return 6 << 56 | UInt64(f.raw)
        case .page(let p): return 7 << 56 | UInt64(p.raw)
        case .pte(let s): return 8 << 56 | t(s.table) << 9 | UInt64(s.index & 511)
        case .pmd(let x, let i): return 9 << 56 | t(x) << 10 | UInt64(i & 1023)
        case .upper(let x, let i): return 10 << 56 | t(x) << 10 | UInt64(i & 1023)
        case .seqcount(let mm): return 11 << 56 | UInt64(mm)
        case .mmFlags(let mm): return 12 << 56 | UInt64(mm)
        case .vmas(let mm): return 13 << 56 | UInt64(mm)
        case .pins(let f): return 14 << 56 | UInt64(f.raw)
        case .pinTable: return 15 << 56
        case .allocator: return 16 << 56
        case .tableAllocator: return 17 << 56
        case .swapSlot(let s): return 18 << 56 | UInt64(s)
        case .swapAllocator: return 19 << 56
        case .deferredSplit: return 20 << 56
        case .pagecache(let f): return 21 << 56 | UInt64(f)
        case .processes: return 22 << 56
        case .anonVMAIds: return 23 << 56
        case .tableFree(let mm): return 24 << 56 | UInt64(mm)
        case .quiescence(let th): return 25 << 56 | UInt64(th)
        case .unknown: return AccessKey.unknownKey
        }
    }

    /// The object a key names (for reports of the commutativity audit).
    package static func from(key k: UInt64) -> PointObject {
        let payload = k & ((1 << 56) - 1)
        let table = Int32(bitPattern: UInt32(truncatingIfNeeded: payload >> 9)), index = Int(payload & 511)
        let table10 = Int32(bitPattern: UInt32(truncatingIfNeeded: payload >> 10)), index10 = Int(payload & 1023)
        let low = Int(payload & 0xFFFF_FFFF)
        switch k >> 56 {
        case 1: return .mmapLock(mm: Int(payload))
        case 2: return .vmaLock(mm: Int(payload >> 32), vma: Int32(truncatingIfNeeded: low))
        case 3: return .ptl(table: Int32(truncatingIfNeeded: low))
        case 4: return .pmdLock(table: Int32(truncatingIfNeeded: low))
        case 5: return .folioLock(PFN(UInt32(truncatingIfNeeded: payload)))
        case 6: return .folio(PFN(UInt32(truncatingIfNeeded: payload)))
        case 7: return .page(PFN(UInt32(truncatingIfNeeded: payload)))
        case 8: return .pte(PTESlot(table: table, index: index))
        case 9: return .pmd(table: table10, index: index10)
        case 10: return .upper(table: table10, index: index10)
        case 11: return .seqcount(mm: Int(payload))
        case 12: return .mmFlags(mm: Int(payload))
        case 13: return .vmas(mm: Int(payload))
        case 14: return .pins(PFN(UInt32(truncatingIfNeeded: payload)))
        case 15: return .pinTable
        case 16: return .allocator
        case 17: return .tableAllocator
        case 18: return .swapSlot(Int(payload))
        case 19: return .swapAllocator
        case 20: return .deferredSplit
        case 21: return .pagecache(file: Int(payload))
        case 22: return .processes
        case 23: return .anonVMAIds
        case 24: return .tableFree(mm: Int(payload))
        case 25: return .quiescence(thread: Int(payload))
        default: return .unknown
        }
    }
}

package enum AccessKey {
    package static let unknownKey: UInt64 = 0xFF << 56
}

/// Whether a step reads or writes the object of its point.
package enum PointAccess: Sendable {
    case read, write
}

/// One scheduling point: the kernel function, the object the following step touches, how,
/// and a short name of the step (`lock PTL`, `B3 grab folio`).
package struct SchedPoint: Sendable, CustomStringConvertible {
    package var function: StaticString
    package var object: PointObject
    package var access: PointAccess
    package var step: StaticString
    /// The lock this step takes, if it is an acquisition: the explorer does not run the step
    /// while the lock is held.
    package var acquires: LockResource?
    /// The lock's name in a trace (`A.ptl(0x10000)`), for acquisitions and releases (nil when
    /// not tracing: the name is built only for a trace).
    package var lockName: String?
    @inline(__always) package init(_ function: StaticString, _ step: StaticString, _ object: PointObject, _ access: PointAccess,
                                  acquires: LockResource? = nil, lockName: String? = nil) {
        self.function = function; self.step = step; self.object = object; self.access = access
        self.acquires = acquires; self.lockName = lockName
    }
    package var description: String { "\(function): \(step) [\(access == .write ? "W" : "R") \(object)]" }
}
