/// State of a simulated rw-semaphore (`mmap_lock`).
package struct RWSemState: Sendable, Hashable {
    package var readers: Int32 = 0
    /// Thread holding it for write, 0 if none.
    package var writer: Int32 = 0
    package var isFree: Bool { readers == 0 && writer == 0 }
}

/// An address space (`mm_struct`) of one simulated process.
///
/// Its shared fields are reached through accessors that record them in the running step's
/// footprint: the VMA tree and the VMAs (`vmas`), `mm->flags` (`mmFlags`),
/// `write_protect_seq` (`seqcount`), whether the mm is alive (`processes`). The RSS and event
/// counters are not recorded: kernel paths only add to them (per-CPU counters in the kernel,
/// whose additions commute) and only the checker and the reports read them, at rest.
package final class MM {
    /// Index in `World.mms`; also the 6.15 `mm_id` (plus one, so that 0 stays the dummy id).
    package let index: Int
    package let name: String
    private var vmaList: [VMA] = []
    /// ID of the PGD table in the page-table store.
    let pgd: Int32
    private var hasPinnedFlag = false
    private var disableTHPFlag = false
    private var wpSeq: UInt32 = 0
    package internal(set) var mmapLock = RWSemState()
    /// Per-VMA locks (6.4+ `vm_lock`), by VMA id: readers, and the VMAs write-locked by the
    /// mmap_lock writer until it unlocks (`vma_start_write` … `vma_end_write_all`).
    /// By VMA id (ids are small and never reused): readers, and whether the writer locked it;
    /// plus the write-locked ids, to end them, and how many locks are held. (Arrays indexed by
    /// id, not a dictionary: every fault from 6.4 takes and drops a read lock; the readers in
    /// a `RawArray`, which a lock updates without a uniqueness check.)
    private var vmaReaders: RawArray<Int32>
    private var vmaWriteLockedFlag: [Bool] = []
    private var vmaWriteLocked: [Int32] = []
    private var vmaLocksHeld = 0
    /// GUP-fast walks of this mm that have interrupts disabled (page tables cannot be freed).
    var gupFastWalkers: Int32 = 0
    /// The next VMA id (ids are never reused within an mm).
    private var nextVMAId: Int32 = 1
    /// `MM_ANONPAGES`, `MM_FILEPAGES`, `MM_SWAPENTS`.
    package internal(set) var rssAnon = 0
    package internal(set) var rssFile = 0
    package internal(set) var rssSwap = 0
    private var isAlive = true
    /// A lookup cache of `vmaIndex(containing:)`: not state.
    private var lastVMA = -1
    /// A paging-structure cache, as a CPU keeps one: for the 2 MiB last walked, its PMD
    /// table and the PTE table its PMD entry points to (0 when the entry is none or huge),
    /// valid while the page-table store's `walkGeneration` is the one it was filled in. Not
    /// state; empty in a copy.
    var walkCache = (pmdKey: UInt64.max, generation: UInt64(0), pmdTable: Int32(0), pteTable: Int32(0))
    /// Event counters of this process (layout in `Counter`).
    let counters: UnsafeMutablePointer<Int>
    /// Set through `World.log` while an explorer runs.
    var log: AccessLog?

    init(index: Int, name: String, pgd: Int32) {
        self.index = index
        self.name = name
        self.pgd = pgd
        counters = Counter.allocate()
        vmaReaders = RawArray()
    }

    /// A copy with its own counters (the explorer's snapshot).
    init(copying o: MM) {
        index = o.index
        name = o.name
        vmaList = o.vmaList
        pgd = o.pgd
        hasPinnedFlag = o.hasPinnedFlag
        disableTHPFlag = o.disableTHPFlag
        wpSeq = o.wpSeq
        mmapLock = o.mmapLock
        vmaReaders = RawArray(copying: o.vmaReaders)
        vmaWriteLockedFlag = o.vmaWriteLockedFlag
        vmaWriteLocked = o.vmaWriteLocked
        vmaLocksHeld = o.vmaLocksHeld
        gupFastWalkers = o.gupFastWalkers
        nextVMAId = o.nextVMAId
        rssAnon = o.rssAnon
        rssFile = o.rssFile
        rssSwap = o.rssSwap
        isAlive = o.isAlive
        counters = Counter.allocate(copying: o.counters)
    }

    deinit {
        counters.deallocate()
        vmaReaders.release()
    }

    @inline(__always) private func note(_ o: PointObject, write: Bool, value: UInt64 = 0) {
        if _slowPath(accessLogging), let l = log { l.note(o, write: write, value: value) }
    }

    /// This process's event counters.
    package var stats: ProcessStats { ProcessStats(counters: counters) }

    /// 6.15 `mm->mm_id`.
    package var mmID: Int32 { Int32(index + 1) }

    // MARK: recorded fields

    /// The VMAs, sorted by start address, non-overlapping.
    package var vmas: [VMA] {
        get { note(.vmas(mm: index), write: false, value: UInt64(vmaList.count)); return vmaList }
        _modify { note(.vmas(mm: index), write: true); lastVMA = -1; yield &vmaList }
    }
    /// `vmas[i]`, recorded as the same read, without copying the array out (a retain and a
    /// release of its buffer per fault). Out of line: inlined, it made `lock_vma_under_rcu`
    /// too large for the optimizer to inline into the fault's async frame.
    @inline(never) package func vma(at i: Int) -> VMA {
        noteVMARead()
        return vmaList[i]
    }
    /// `vmas[i]` as `vma(at:)` records and returns it, or nil if `needsAnonVMA` and it is an
    /// anonymous VMA without an anon_vma yet (`lock_vma_under_rcu` before 6.10). The two
    /// fields are tested in the list: tested on the returned value, they made the compiler
    /// copy the VMA field by field (callgrind: 28 instructions a fault).
    @inline(__always) func vma(at i: Int, unlessMissingAnonVMA needsAnonVMA: Bool) -> VMA? {
        noteVMARead()
        if needsAnonVMA && vmaList[i].isAnonymous && vmaList[i].anonVMA == 0 { return nil }
        return vmaList[i]
    }
    /// What `mas_walk` reads of `vmas[i]` before `vma_start_read`: its id and whether it is
    /// anonymous, recorded as `vma(at:)` records it, without copying the VMA.
    @inline(__always) package func vmaIdentity(at i: Int) -> (id: Int32, isAnonymous: Bool) {
        noteVMARead()
        return (vmaList[i].id, vmaList[i].isAnonymous)
    }
    @inline(__always) private func noteVMARead() { note(.vmas(mm: index), write: false, value: UInt64(vmaList.count)) }
    /// `MMF_HAS_PINNED`: set by the first FOLL_PIN, never cleared, not inherited.
    package internal(set) var hasPinned: Bool {
        get { note(.mmFlags(mm: index), write: false, value: hasPinnedFlag ? 1 : 0); return hasPinnedFlag }
        set { note(.mmFlags(mm: index), write: true); hasPinnedFlag = newValue }
    }
    /// `MMF_DISABLE_THP` (prctl PR_SET_THP_DISABLE).
    package internal(set) var disableTHP: Bool {
        @inline(__always) get { note(.mmFlags(mm: index), write: false, value: disableTHPFlag ? 2 : 0); return disableTHPFlag }
        set { note(.mmFlags(mm: index), write: true); disableTHPFlag = newValue }
    }
    /// `write_protect_seq`: odd while fork write-protects this mm's COW mappings.
    package internal(set) var writeProtectSeq: UInt32 {
        get { note(.seqcount(mm: index), write: false, value: UInt64(wpSeq)); return wpSeq }
        set { note(.seqcount(mm: index), write: true); wpSeq = newValue }
    }
    /// False once `exit_mmap` tore the address space down.
    package internal(set) var alive: Bool {
        get { note(.processes, write: false, value: isAlive ? 1 : 0); return isAlive }
        set { note(.processes, write: true); isAlive = newValue }
    }

    /// The fields as the checker and reports read them (unlogged).
    package var peekVMAs: [VMA] { vmaList }
    package var peekAlive: Bool { isAlive }
    package var peekHasPinned: Bool { hasPinnedFlag }
    package var peekWriteProtectSeq: UInt32 { wpSeq }
    var disableTHPFlagPeek: Bool { disableTHPFlag }

    // MARK: the VMA tree

    /// `find_vma` restricted to VMAs containing `addr` (`vma_lookup`).
    @inline(__always) package func vmaIndex(containing addr: UInt64) -> Int? {
        note(.vmas(mm: index), write: false, value: addr)
        if lastVMA >= 0 && lastVMA < vmaList.count && vmaList[lastVMA].contains(addr) { return lastVMA }
        var lo = 0, hi = vmaList.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmaList[mid].end <= addr { lo = mid + 1 } else { hi = mid }
        }
        guard lo < vmaList.count, vmaList[lo].contains(addr) else { return nil }
        lastVMA = lo
        return lo
    }

    /// The VMA with id `id` (the VMA a fault or GUP works on, found again after a lock was
    /// dropped or another VMA changed), nil if it is gone.
    func vmaIndex(id: Int32, containing addr: UInt64) -> Int? {
        guard let i = vmaIndex(containing: addr), vmaList[i].id == id else { return nil }
        return i
    }

    /// Index of the first VMA that ends after `addr` (`find_vma`).
    func firstVMA(endingAfter addr: UInt64) -> Int {
        note(.vmas(mm: index), write: false, value: addr)
        var lo = 0, hi = vmaList.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmaList[mid].end <= addr { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// True if any VMA overlaps `[start, end)`.
    func overlaps(_ start: UInt64, _ end: UInt64) -> Bool {
        let i = firstVMA(endingAfter: start)
        return i < vmaList.count && vmaList[i].start < end
    }

    /// Inserts a new VMA, giving it a fresh id.
    func insertVMA(_ vma: VMA) {
        var v = vma
        if v.id == 0 { v.id = newVMAId() } else { nextVMAId = max(nextVMAId, v.id + 1) }
        let i = firstVMA(endingAfter: v.start)
        vmas.insert(v, at: i)
    }

    func newVMAId() -> Int32 {
        nextVMAId += 1
        return nextVMAId - 1
    }

    /// Splits VMAs so that `addr` is a VMA boundary (`split_vma`); the upper part is a new
    /// VMA (a new id).
    func splitVMA(at addr: UInt64) {
        guard let i = vmaIndex(containing: addr), vmaList[i].start != addr else { return }
        var upper = vmaList[i]
        upper.pgoff = vmaList[i].pageIndex(addr)
        upper.start = addr
        upper.id = newVMAId()
        vmas[i].end = addr
        vmas.insert(upper, at: i + 1)
    }

    /// Merges adjacent VMAs that are compatible (`VMA.canMerge`) and have the same flags,
    /// after mprotect or madvise changed some (`vma_merge_existing_range`, applied to the
    /// whole mm rather than around the changed range). The lower VMA survives.
    func mergeVMAs() {
        var i = 0
        while i + 1 < vmaList.count {
            if vmaList[i].flags == vmaList[i + 1].flags && vmaList[i].canMerge(with: vmaList[i + 1]) {
                joinVMAs(i...(i + 1), survivor: i)
            } else {
                i += 1
            }
        }
    }

    /// The VMAs at `range` become one: `survivor` (one of them) keeps its id and takes the
    /// whole range, the pgoff of the lowest and the first anon_vma among them
    /// (`vma_expand` with `dup_anon_vma`).
    func joinVMAs(_ range: ClosedRange<Int>, survivor: Int) {
        var v = vmaList[survivor]
        v.start = vmaList[range.lowerBound].start
        v.pgoff = vmaList[range.lowerBound].pgoff
        v.end = vmaList[range.upperBound].end
        if let donor = range.first(where: { vmaList[$0].anonVMA != 0 }) {
            v.anonVMA = vmaList[donor].anonVMA
            v.anonVMAInherited = vmaList[donor].anonVMAInherited
        }
        vmas.replaceSubrange(range, with: [v])
    }

    func removeVMAs(in range: Range<Int>) { vmas.removeSubrange(range) }

    func replaceVMA(at i: Int, with vma: VMA) { vmas[i] = vma }

    // MARK: per-VMA locks (6.4+)

    func vmaLockAvailable(_ id: Int32, write: Bool) -> Bool {
        write ? readers(id) == 0 : !writeLocked(id)
    }
    func vmaLockHolders(_ id: Int32) -> String {
        writeLocked(id) ? "the mmap_lock writer" : "\(readers(id)) reader(s)"
    }
    @inline(__always) private func readers(_ id: Int32) -> Int32 { Int(id) < vmaReaders.count ? vmaReaders[Int(id)] : 0 }
    @inline(__always) private func writeLocked(_ id: Int32) -> Bool { Int(id) < vmaWriteLockedFlag.count && vmaWriteLockedFlag[Int(id)] }
    /// Whether the VMA is write-locked (`vma_start_read` then fails). The kernel compares
    /// `vma->vm_lock_seq` with `mm->mm_lock_seq`, which `mmap_write_unlock` advances: the
    /// read is recorded on the mmap_lock, whose write steps are the only ones that end a
    /// VMA write lock.
    @inline(__always) func isVMAWriteLocked(_ id: Int32) -> Bool {
        note(.mmapLock(mm: index), write: false)
        return writeLocked(id)
    }
    @inline(__always) func vmaReadLock(_ id: Int32) {
        vmaReaders.grow(to: Int(id) + 1, with: 0)
        vmaReaders[Int(id)] += 1
        vmaLocksHeld += 1
    }
    func vmaReadUnlock(_ id: Int32) {
        guard readers(id) > 0 else { return }
        vmaReaders[Int(id)] -= 1
        vmaLocksHeld -= 1
    }
    func vmaWriteLock(_ id: Int32) {
        guard !writeLocked(id) else { return }
        if Int(id) >= vmaWriteLockedFlag.count { vmaWriteLockedFlag += [Bool](repeating: false, count: Int(id) + 1 - vmaWriteLockedFlag.count) }
        vmaWriteLockedFlag[Int(id)] = true
        vmaWriteLocked.append(id)
        vmaLocksHeld += 1
    }
    /// `vma_end_write_all`: the writer's mmap_write_unlock (or downgrade) ends its VMA locks.
    func vmaEndWriteAll() {
        guard !vmaWriteLocked.isEmpty else { return }
        for id in vmaWriteLocked { vmaWriteLockedFlag[Int(id)] = false }
        vmaLocksHeld -= vmaWriteLocked.count
        vmaWriteLocked.removeAll()
    }
    /// The per-VMA locks held: (VMA id, readers, write-locked), by id.
    var peekVMALocks: [(Int32, Int32, Bool)] {
        guard vmaLocksHeld != 0 else { return [] }
        var out: [(Int32, Int32, Bool)] = []
        for id in 0..<max(vmaReaders.count, vmaWriteLockedFlag.count) where readers(Int32(id)) != 0 || writeLocked(Int32(id)) {
            out.append((Int32(id), readers(Int32(id)), writeLocked(Int32(id))))
        }
        return out
    }
    /// The readers of a per-VMA lock.
    func peekVMAReaders(_ id: Int32) -> Int32 { readers(id) }
}
