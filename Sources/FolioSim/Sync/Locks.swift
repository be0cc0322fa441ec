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

/// Simulated locks. Every lock and unlock is a scheduling point. A thread that finds a lock
/// taken waits through `SchedulingHooks.block`; without a scheduler (run-to-completion) a
/// taken lock can only mean a FolioSim bug, which is reported as the `lock-order` violation.
extension World {
    func waitFor(_ t: SimThread, _ r: LockResource) async {
        if let h = hooks {
            await h.block(t, on: r)
        } else {
            report(.lockOrder, t.mm, "\(t.name) would block forever on \(r) in a single-threaded run")
        }
    }

    /// `mmap_read_lock`.
    @inline(__always) func mmapReadLock(_ t: SimThread, _ mm: MM, _ fn: StaticString = #function) async {
        await schedule(t, fn, "mmap_read_lock", .mmapLock(mm: mm.index), .read)
        while mm.mmapLock.writer != 0 {
            await waitFor(t, .mmapLock(mm: mm.index, write: false))
            if hooks == nil { break }
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
        await schedule(t, fn, "mmap_write_lock", .mmapLock(mm: mm.index), .write)
        while !mm.mmapLock.isFree {
            await waitFor(t, .mmapLock(mm: mm.index, write: true))
            if hooks == nil { break }
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
        await schedule(t, fn, "lock PTL", .ptl(table: table), .write)
        while tables.pte[Int(table)].ptlOwner != 0 {
            await waitFor(t, .ptl(table: table))
            if hooks == nil { break }
        }
        tables.pte[Int(table)].ptlOwner = t.id
    }
    /// `spin_unlock(ptl)`.
    @inline(__always) func ptlUnlock(_ t: SimThread, _ table: Int32, _ fn: StaticString = #function) async {
        await schedule(t, fn, "drop PTL", .ptl(table: table), .write)
        tables.pte[Int(table)].ptlOwner = 0
    }

    /// `pmd_lock`.
    @inline(__always) func pmdLock(_ t: SimThread, _ table: Int32, _ fn: StaticString = #function) async {
        await schedule(t, fn, "lock PMD", .pmdLock(table: table), .write)
        while tables.pmd[Int(table)].lockOwner != 0 {
            await waitFor(t, .pmdLock(table: table))
            if hooks == nil { break }
        }
        tables.pmd[Int(table)].lockOwner = t.id
    }
    @inline(__always) func pmdUnlock(_ t: SimThread, _ table: Int32, _ fn: StaticString = #function) async {
        await schedule(t, fn, "drop PMD lock", .pmdLock(table: table), .write)
        tables.pmd[Int(table)].lockOwner = 0
    }

    /// `folio_trylock`: never sleeps (callable under a PTL).
    @inline(__always) func folioTrylock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async -> Bool {
        await schedule(t, fn, "folio_trylock", .folioLock(folio), .write)
        if memory.test(folio, PageFlag.locked) { return false }
        memory.set(folio, PageFlag.locked)
        return true
    }
    /// `folio_lock`: sleeps until the folio lock is free.
    @inline(__always) func folioLock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async {
        await schedule(t, fn, "folio_lock", .folioLock(folio), .write)
        while memory.test(folio, PageFlag.locked) {
            await waitFor(t, .folioLock(folio))
            if hooks == nil { break }
        }
        memory.set(folio, PageFlag.locked)
    }
    @inline(__always) func folioUnlock(_ t: SimThread, _ folio: PFN, _ fn: StaticString = #function) async {
        await schedule(t, fn, "folio_unlock", .folioLock(folio), .write)
        memory.clear(folio, PageFlag.locked)
    }
}
