/// A lock a simulated thread can wait for.
package enum LockResource: Hashable, Sendable, CustomStringConvertible {
    /// `mmap_lock` of an mm (by index), for read or write.
    case mmapLock(mm: Int, write: Bool)
    /// The per-VMA lock of a VMA (by id), for read or write (`vma_start_read/write`).
    case vmaLock(mm: Int, vma: Int32, write: Bool)
    /// The split PTL of a PTE table.
    case ptl(table: Int32)
    /// The PMD lock of a PMD table.
    case pmdLock(table: Int32)
    /// `folio_lock` of a folio.
    case folioLock(PFN)
    /// Freeing page tables of an mm (`tlb_remove_table_sync_one`): waits until no GUP-fast
    /// walk of that mm has interrupts disabled. GUP-fast holds it shared.
    case tableFree(mm: Int, write: Bool)

    package var description: String {
        switch self {
        case .mmapLock(let mm, let w): "mmap_lock(mm \(mm), \(w ? "write" : "read"))"
        case .vmaLock(let mm, let v, let w): "vma_lock(mm \(mm), vma \(v), \(w ? "write" : "read"))"
        case .ptl(let t): "PTL(table \(t))"
        case .pmdLock(let t): "PMD lock(table \(t))"
        case .folioLock(let f): "folio lock(\(f))"
        case .tableFree(let mm, let w): "page-table freeing (mm \(mm), \(w ? "free" : "GUP-fast walk"))"
        }
    }
}

/// How a trace names a lock instance (`World.lockText`): plain values, so that a lock call
/// site builds no string and no closure unless a tracer asks for the name.
enum LockName {
    case mmap(mm: Int)
    case ptl(mm: Int, addr: UInt64)
    case pmd(mm: Int, addr: UInt64)
    case folio(PFN)
    case vma(mm: Int, start: UInt64)
    case tableFree(mm: Int)
}

/// Simulated locks. Every lock and unlock is a scheduling point; an acquisition's point names
/// the lock (`SchedPoint.acquires`), so the explorer runs it only when the lock is free. A
/// thread that still finds a lock taken waits through `SchedulingHooks.reachBlocked`; without a
/// scheduler (run-to-completion) a taken lock can only mean a FolioSim bug, which is reported
/// as the `lock-order` violation.
///
/// Traces name each lock instance as a kernel developer would: `A.mmap_lock`,
/// `A.ptl(0x10000)` (the PTL guarding the PTE of that address in A), `B.pmd_lock(0x0)`,
/// `folio_lock(pfn 5)`.
extension World {
    /// Whether `r` can be taken now: a read lock while nobody writes, anything else while free.
    package func isAvailable(_ r: LockResource) -> Bool {
        switch r {
        case .mmapLock(let mm, let write): return mmapLockAvailable(mms[mm], write: write)
        case .vmaLock(let mm, let v, let write): return mms[mm].vmaLockAvailable(v, write: write)
        case .ptl(let t): return tables.ptlOwner(t) == 0
        case .pmdLock(let t): return tables.pmdLockOwner(t) == 0
        case .folioLock(let f): return memory.frames[f.index].flags & PageFlag.locked == 0
        case .tableFree(let mm, let write): return write ? mms[mm].gupFastWalkers == 0 : true
        }
    }
    @inline(__always) func mmapLockAvailable(_ mm: MM, write: Bool) -> Bool {
        write ? mm.mmapLock.isFree : mm.mmapLock.writer == 0
    }

    /// Who holds `r`, for deadlock reports.
    package func holderName(_ r: LockResource) -> String {
        func name(_ id: Int32) -> String { id > 0 && Int(id) <= threads.count ? threads[Int(id) - 1].name : "nobody" }
        switch r {
        case .mmapLock(let mm, _):
            let s = mms[mm].mmapLock
            return s.writer != 0 ? name(s.writer) + " (write)" : "\(s.readers) reader(s)"
        case .vmaLock(let mm, let v, _): return mms[mm].vmaLockHolders(v)
        case .ptl(let t): return name(tables.ptlOwner(t))
        case .pmdLock(let t): return name(tables.pmdLockOwner(t))
        case .folioLock: return "a folio_lock holder"
        case .tableFree(let mm, _): return "\(mms[mm].gupFastWalkers) GUP-fast walk(s)"
        }
    }

    /// A lock instance's name in a trace, as a kernel developer would write it:
    /// `A.mmap_lock`, `A.ptl(0x10000)` (the PTL that guards the PTE of that address in A),
    /// `B.pmd_lock(0x0)`, `folio_lock(pfn 5)`.
    func lockText(_ n: LockName) -> String {
        switch n {
        case .mmap(let mm): "\(mms[mm].name).mmap_lock"
        case .ptl(let mm, let addr): "\(mms[mm].name).ptl(\(VirtualAddress(addr & ~(Geometry.pageSize - 1))))"
        case .pmd(let mm, let addr): "\(mms[mm].name).pmd_lock(\(VirtualAddress(addr & ~(Geometry.pmdSize - 1))))"
        case .folio(let f): "folio_lock(\(f))"
        case .vma(let mm, let start): "\(mms[mm].name).vma(\(VirtualAddress(start)))"
        case .tableFree(let mm): "\(mms[mm].name) page-table freeing"
        }
    }

    /// Under a scheduler: the point of an acquisition (it names the lock, so the explorer
    /// runs it only when the lock is free), then waiting while it is taken. Without one, a
    /// taken lock can only be a FolioSim bug.
    @inline(never) func acquireSlowPath(_ t: SimThread, _ r: LockResource, _ fn: StaticString, _ step: StaticString, _ name: LockName) async {
        guard let h = hooks else {
            if !isAvailable(r) { report(.lockOrder, t.mm, "\(t.name) would block forever on \(r) in a single-threaded run") }
            return
        }
        if h.reach(t, SchedPoint(fn, step, r.pointObject, r.isExclusive ? .write : .read, acquires: r, lockName: tracer != nil ? lockText(name) : nil)) { await h.wait(t) }
        while !isAvailable(r) {
            if h.reachBlocked(t, on: r) { await h.wait(t) }
        }
    }

    /// `mmap_read_lock`.
    @inline(__always) func mmapReadLock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        if hooks != nil || !mmapLockAvailable(mm, write: false) {
            await acquireSlowPath(t, .mmapLock(mm: mm.index, write: false), fn, "mmap_read_lock", .mmap(mm: mm.index))
        }
        mm.mmapLock.readers += 1
    }
    /// `mmap_read_trylock`: never sleeps (`vmf_anon_prepare` calls it under a VMA lock). It
    /// fails while a writer holds mmap_lock; left out: the rwsem also failing it while a
    /// writer waits.
    @inline(__always) func mmapReadTrylock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async -> Bool {
        await schedule(t, fn, "mmap_read_trylock", .mmapLock(mm: mm.index), .read, lock: .mmap(mm: mm.index))
        guard mmapLockAvailable(mm, write: false) else { return false }
        mm.mmapLock.readers += 1
        return true
    }
    /// `mmap_read_unlock`.
    @inline(__always) func mmapReadUnlock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        await schedule(t, fn, "mmap_read_unlock", .mmapLock(mm: mm.index), .read, lock: .mmap(mm: mm.index))
        mm.mmapLock.readers -= 1
    }
    /// `mmap_write_lock`.
    @inline(__always) func mmapWriteLock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        if hooks != nil || !mmapLockAvailable(mm, write: true) {
            await acquireSlowPath(t, .mmapLock(mm: mm.index, write: true), fn, "mmap_write_lock", .mmap(mm: mm.index))
        }
        mm.mmapLock.writer = t.id
    }
    /// `mmap_write_unlock`: also ends every VMA write lock the writer took (`vma_end_write_all`).
    @inline(__always) func mmapWriteUnlock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        await schedule(t, fn, "mmap_write_unlock", .mmapLock(mm: mm.index), .write, lock: .mmap(mm: mm.index))
        mm.mmapLock.writer = 0
        mm.vmaEndWriteAll()
    }
    /// `mmap_write_downgrade`: the writer keeps the lock for read, so readers may join.
    @inline(__always) func mmapWriteDowngrade(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        await schedule(t, fn, "mmap_write_downgrade", .mmapLock(mm: mm.index), .write, lock: .mmap(mm: mm.index))
        mm.mmapLock.writer = 0
        mm.mmapLock.readers += 1
        mm.vmaEndWriteAll()
    }

    /// `spin_lock(ptl)` of a PTE table (`pte_offset_map_lock` after the table was found);
    /// `mm` and `addr` name the lock in traces.
    @inline(__always) func ptlLock(_ t: SimThread, _ table: Int32, _ mm: MM, _ addr: UInt64, _ fn: StaticString = #function) async {
        if hooks != nil || tables.ptlOwner(table) != 0 {
            await acquireSlowPath(t, .ptl(table: table), fn, "spin_lock", .ptl(mm: mm.index, addr: addr))
        }
        tables.setPTLOwner(table, t.id)
    }
    /// `spin_unlock(ptl)`.
    @inline(__always) func ptlUnlock(_ t: SimThread, _ table: Int32, _ mm: MM, _ addr: UInt64, _ fn: StaticString = #function) async {
        await schedule(t, fn, "spin_unlock", .ptl(table: table), .write, lock: .ptl(mm: mm.index, addr: addr))
        tables.setPTLOwner(table, 0)
    }

    /// `pmd_lock`.
    @inline(__always) func pmdLock(_ t: SimThread, _ table: Int32, _ mm: MM, _ addr: UInt64, _ fn: StaticString = #function) async {
        if hooks != nil || tables.pmdLockOwner(table) != 0 {
            await acquireSlowPath(t, .pmdLock(table: table), fn, "spin_lock", .pmd(mm: mm.index, addr: addr))
        }
        tables.setPMDLockOwner(table, t.id)
    }
    @inline(__always) func pmdUnlock(_ t: SimThread, _ table: Int32, _ mm: MM, _ addr: UInt64, _ fn: StaticString = #function) async {
        await schedule(t, fn, "spin_unlock", .pmdLock(table: table), .write, lock: .pmd(mm: mm.index, addr: addr))
        tables.setPMDLockOwner(table, 0)
    }

    /// `folio_trylock`: never sleeps (callable under a PTL).
    @inline(__always) func folioTrylock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async -> Bool {
        await schedule(t, fn, "folio_trylock", .folioLock(folio), .write, lock: .folio(folio))
        guard !memory.test(folio, PageFlag.locked) else { return false }
        memory.set(folio, PageFlag.locked)
        return true
    }
    /// `folio_lock`: sleeps until the folio lock is free.
    @inline(__always) func folioLock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async {
        if hooks != nil || !isAvailable(.folioLock(folio)) {
            await acquireSlowPath(t, .folioLock(folio), fn, "folio_lock", .folio(folio))
        }
        memory.set(folio, PageFlag.locked)
    }
    @inline(__always) func folioUnlock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async {
        await schedule(t, fn, "folio_unlock", .folioLock(folio), .write, lock: .folio(folio))
        memory.clear(folio, PageFlag.locked)
    }

    /// `vma_start_write` (6.4+, with mmap_lock held for write): waits for the VMA's readers (a
    /// fault under the VMA lock) to finish; faults then fall back to mmap_lock until the
    /// writer unlocks it (`vma_end_write_all` at `mmap_write_unlock`).
    func vmaStartWrite(_ t: SimThread, _ mm: MM, _ vma: VMA, _ fn: StaticString = #function) async {
        guard semantics.vmaLocks, vma.id != 0, !mm.isVMAWriteLocked(vma.id) else { return }
        if hooks != nil || !isAvailable(.vmaLock(mm: mm.index, vma: vma.id, write: true)) {
            await acquireSlowPath(t, .vmaLock(mm: mm.index, vma: vma.id, write: true), fn, "vma_start_write",
                                  .vma(mm: mm.index, start: vma.start))
        }
        mm.vmaWriteLock(vma.id)
    }

    /// `local_irq_save` at the start of a GUP-fast walk: page tables of `mm` cannot be freed
    /// until `gupFastWalkEnd` (the freeing side waits for an IPI or an RCU grace period).
    @inline(__always) func gupFastWalkBegin(_ t: SimThread, _ mm: MM) async {
        await schedule(t, "gup_fast", "local_irq_save", .tableFree(mm: mm.index), .read, lock: .tableFree(mm: mm.index))
        mm.gupFastWalkers += 1
    }
    /// `local_irq_restore`.
    @inline(__always) func gupFastWalkEnd(_ t: SimThread, _ mm: MM) async {
        await schedule(t, "gup_fast", "local_irq_restore", .tableFree(mm: mm.index), .read, lock: .tableFree(mm: mm.index))
        mm.gupFastWalkers -= 1
    }
    /// `tlb_remove_table_sync_one` before page tables of `mm` are freed: waits until no
    /// GUP-fast walk of `mm` has interrupts disabled.
    func tableFreeSync(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        guard hooks != nil else { return }
        await acquireSlowPath(t, .tableFree(mm: mm.index, write: true), fn, "tlb_remove_table_sync_one", .tableFree(mm: mm.index))
    }
}

extension LockResource {
    /// Read locks commute with each other; every other lock step is a write.
    package var isExclusive: Bool {
        switch self {
        case .mmapLock(_, let w), .vmaLock(_, _, let w), .tableFree(_, let w): return w
        default: return true
        }
    }
    /// The point object of the lock.
    package var pointObject: PointObject {
        switch self {
        case .mmapLock(let mm, _): .mmapLock(mm: mm)
        case .vmaLock(let mm, let v, _): .vmaLock(mm: mm, vma: v)
        case .ptl(let t): .ptl(table: t)
        case .pmdLock(let t): .pmdLock(table: t)
        case .folioLock(let f): .folioLock(f)
        case .tableFree(let mm, _): .tableFree(mm: mm)
        }
    }
}
