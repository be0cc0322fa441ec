/// A lock a simulated thread can wait for.
public enum LockResource: Hashable, Sendable, CustomStringConvertible {
    /// `mmap_lock` of an mm (by index), for read or write.
    case mmapLock(mm: Int, write: Bool)
    /// The split PTL of a PTE table.
    case ptl(table: Int32)
    /// The PMD lock of a PMD table.
    case pmdLock(table: Int32)
    /// `folio_lock` of a folio.
    case folioLock(PFN)

    public var description: String {
        switch self {
        case .mmapLock(let mm, let w): "mmap_lock(mm \(mm), \(w ? "write" : "read"))"
        case .ptl(let t): "PTL(table \(t))"
        case .pmdLock(let t): "PMD lock(table \(t))"
        case .folioLock(let f): "folio lock(\(f))"
        }
    }
}

/// Simulated locks. Every lock and unlock is a scheduling point; an acquisition's point names
/// the lock (`SchedPoint.acquires`), so the explorer runs it only when the lock is free. A
/// thread that still finds a lock taken waits through `SchedulingHooks.reachBlocked`; without a
/// scheduler (run-to-completion) a taken lock can only mean a FolioSim bug, which is reported
/// as the `lock-order` violation.
extension World {
    /// Whether `r` can be taken now: a read lock while nobody writes, anything else while free.
    func isAvailable(_ r: LockResource) -> Bool {
        switch r {
        case .mmapLock(let mm, let write): return mmapLockAvailable(mms[mm], write: write)
        case .ptl(let t): return ptlAvailable(t)
        case .pmdLock(let t): return pmdLockAvailable(t)
        case .folioLock(let f): return folioLockAvailable(f)
        }
    }
    @inline(__always) func mmapLockAvailable(_ mm: MM, write: Bool) -> Bool {
        write ? mm.mmapLock.isFree : mm.mmapLock.writer == 0
    }
    @inline(__always) func ptlAvailable(_ t: Int32) -> Bool { tables.pte[Int(t)].ptlOwner == 0 }
    @inline(__always) func pmdLockAvailable(_ t: Int32) -> Bool { tables.pmd[Int(t)].lockOwner == 0 }
    @inline(__always) func folioLockAvailable(_ f: PFN) -> Bool { memory.frames[f.index].flags & PageFlag.locked == 0 }

    /// Who holds `r`, for deadlock reports.
    func holderName(_ r: LockResource) -> String {
        func name(_ id: Int32) -> String { id > 0 && Int(id) <= threads.count ? threads[Int(id) - 1].name : "nobody" }
        switch r {
        case .mmapLock(let mm, _):
            let s = mms[mm].mmapLock
            return s.writer != 0 ? name(s.writer) + " (write)" : "\(s.readers) reader(s)"
        case .ptl(let t): return name(tables.pte[Int(t)].ptlOwner)
        case .pmdLock(let t): return name(tables.pmd[Int(t)].lockOwner)
        case .folioLock: return "a folio_lock holder"
        }
    }

    /// Under a scheduler: the point of an acquisition (it names the lock, so the explorer
    /// runs it only when the lock is free), then waiting while it is taken. Without one, a
    /// taken lock can only be a FolioSim bug.
    func acquireSlowPath(_ t: SimThread, _ r: LockResource, _ fn: StaticString, _ step: StaticString) async {
        guard let h = hooks else {
            if !isAvailable(r) { report(.lockOrder, t.mm, "\(t.name) would block forever on \(r) in a single-threaded run") }
            return
        }
        if h.reach(t, SchedPoint(fn, step, r.pointObject, r.isExclusive ? .write : .read, acquires: r)) { await h.wait(t) }
        while !isAvailable(r) {
            if h.reachBlocked(t, on: r) { await h.wait(t) }
        }
    }

    /// `mmap_read_lock`.
    @inline(__always) func mmapReadLock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        if hooks != nil || !mmapLockAvailable(mm, write: false) {
            await acquireSlowPath(t, .mmapLock(mm: mm.index, write: false), fn, "mmap_read_lock")
        }
        mm.mmapLock.readers += 1
    }
    /// `mmap_read_unlock`.
    @inline(__always) func mmapReadUnlock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        await schedule(t, fn, "mmap_read_unlock", .mmapLock(mm: mm.index), .read)
        mm.mmapLock.readers -= 1
    }
    /// `mmap_write_lock`.
    @inline(__always) func mmapWriteLock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        if hooks != nil || !mmapLockAvailable(mm, write: true) {
            await acquireSlowPath(t, .mmapLock(mm: mm.index, write: true), fn, "mmap_write_lock")
        }
        mm.mmapLock.writer = t.id
    }
    /// `mmap_write_unlock`.
    @inline(__always) func mmapWriteUnlock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        await schedule(t, fn, "mmap_write_unlock", .mmapLock(mm: mm.index), .write)
        mm.mmapLock.writer = 0
    }

    /// `spin_lock(ptl)` of a PTE table (`pte_offset_map_lock` after the table was found).
    @inline(__always) func ptlLock(_ t: SimThread, _ table: Int32, _ fn: StaticString = #function) async {
        if hooks != nil || !ptlAvailable(table) { await acquireSlowPath(t, .ptl(table: table), fn, "lock PTL") }
        tables.pte[Int(table)].ptlOwner = t.id
    }
    /// `spin_unlock(ptl)`.
    @inline(__always) func ptlUnlock(_ t: SimThread, _ table: Int32, _ fn: StaticString = #function) async {
        await schedule(t, fn, "drop PTL", .ptl(table: table), .write)
        tables.pte[Int(table)].ptlOwner = 0
    }

    /// `pmd_lock`.
    @inline(__always) func pmdLock(_ t: SimThread, _ table: Int32, _ fn: StaticString = #function) async {
        if hooks != nil || !pmdLockAvailable(table) { await acquireSlowPath(t, .pmdLock(table: table), fn, "lock PMD") }
        tables.pmd[Int(table)].lockOwner = t.id
    }
    @inline(__always) func pmdUnlock(_ t: SimThread, _ table: Int32, _ fn: StaticString = #function) async {
        await schedule(t, fn, "drop PMD lock", .pmdLock(table: table), .write)
        tables.pmd[Int(table)].lockOwner = 0
    }

    /// `folio_trylock`: never sleeps (callable under a PTL).
    @inline(__always) func folioTrylock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async -> Bool {
        await schedule(t, fn, "folio_trylock", .folioLock(folio), .write)
        guard folioLockAvailable(folio) else { return false }
        memory.set(folio, PageFlag.locked)
        return true
    }
    /// `folio_lock`: sleeps until the folio lock is free.
    @inline(__always) func folioLock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async {
        if hooks != nil || !folioLockAvailable(folio) { await acquireSlowPath(t, .folioLock(folio), fn, "folio_lock") }
        memory.set(folio, PageFlag.locked)
    }
    @inline(__always) func folioUnlock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async {
        await schedule(t, fn, "folio_unlock", .folioLock(folio), .write)
        memory.clear(folio, PageFlag.locked)
    }
}

extension LockResource {
    /// Read locks of mmap_lock commute with each other; every other lock step is a write.
    var isExclusive: Bool {
        if case .mmapLock(_, let w) = self { return w }
        return true
    }
    /// The point object of the lock.
    var pointObject: PointObject {
        switch self {
        case .mmapLock(let mm, _): .mmapLock(mm: mm)
        case .ptl(let t): .ptl(table: t)
        case .pmdLock(let t): .pmdLock(table: t)
        case .folioLock(let f): .folioLock(f)
        }
    }
}
