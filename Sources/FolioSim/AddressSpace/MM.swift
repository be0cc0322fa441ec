/// State of a simulated rw-semaphore (`mmap_lock`).
public struct RWSemState: Sendable {
    public var readers: Int32 = 0
    /// Thread holding it for write, 0 if none.
    public var writer: Int32 = 0
    public var isFree: Bool { readers == 0 && writer == 0 }
}

/// An address space (`mm_struct`) of one simulated process.
public final class MM {
    /// Index in `World.mms`; also the 6.15 `mm_id` (plus one, so that 0 stays the dummy id).
    public let index: Int
    public let name: String
    /// VMAs sorted by start address, non-overlapping.
    public internal(set) var vmas: [VMA] = []
    /// ID of the PGD table in the page-table store.
    let pgd: Int32
    /// `MMF_HAS_PINNED`: set by the first FOLL_PIN, never cleared, not inherited.
    public internal(set) var hasPinned = false
    /// `MMF_DISABLE_THP` (prctl PR_SET_THP_DISABLE).
    public internal(set) var disableTHP = false
    /// `write_protect_seq`: odd while fork write-protects this mm's COW mappings.
    public internal(set) var writeProtectSeq: UInt32 = 0
    public internal(set) var mmapLock = RWSemState()
    /// `MM_ANONPAGES`, `MM_FILEPAGES`, `MM_SWAPENTS`.
    public internal(set) var rssAnon = 0
    public internal(set) var rssFile = 0
    public internal(set) var rssSwap = 0
    public internal(set) var alive = true
    var lastVMA = -1
    /// Event counters of this process (layout in `Counter`).
    let counters: UnsafeMutablePointer<Int>

    init(index: Int, name: String, pgd: Int32) {
        self.index = index
        self.name = name
        self.pgd = pgd
        counters = Counter.allocate()
    }

    /// A copy with its own counters (the explorer's snapshot).
    init(copying o: MM) {
        index = o.index
        name = o.name
        vmas = o.vmas
        pgd = o.pgd
        hasPinned = o.hasPinned
        disableTHP = o.disableTHP
        writeProtectSeq = o.writeProtectSeq
        mmapLock = o.mmapLock
        rssAnon = o.rssAnon
        rssFile = o.rssFile
        rssSwap = o.rssSwap
        alive = o.alive
        lastVMA = o.lastVMA
        counters = Counter.allocate(copying: o.counters)
    }

    deinit { counters.deallocate() }

    /// This process's event counters.
    public var stats: ProcessStats { ProcessStats(counters: counters) }

    /// 6.15 `mm->mm_id`.
    public var mmID: Int32 { Int32(index + 1) }

    /// `find_vma` restricted to VMAs containing `addr` (`vma_lookup`).
    @inline(__always) public func vmaIndex(containing addr: UInt64) -> Int? {
        if lastVMA >= 0 && lastVMA < vmas.count && vmas[lastVMA].contains(addr) { return lastVMA }
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end <= addr { lo = mid + 1 } else { hi = mid }
        }
        guard lo < vmas.count, vmas[lo].contains(addr) else { return nil }
        lastVMA = lo
        return lo
    }

    /// Index of the first VMA that ends after `addr` (`find_vma`).
    func firstVMA(endingAfter addr: UInt64) -> Int {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end <= addr { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// True if any VMA overlaps `[start, end)`.
    func overlaps(_ start: UInt64, _ end: UInt64) -> Bool {
        let i = firstVMA(endingAfter: start)
        return i < vmas.count && vmas[i].start < end
    }

    func insertVMA(_ vma: VMA) {
        let i = firstVMA(endingAfter: vma.start)
        vmas.insert(vma, at: i)
        lastVMA = -1
    }

    /// Splits VMAs so that `addr` is a VMA boundary (`split_vma`).
    func splitVMA(at addr: UInt64) {
        guard let i = vmaIndex(containing: addr), vmas[i].start != addr else { return }
        var upper = vmas[i]
        upper.pgoff = vmas[i].pageIndex(addr)
        upper.start = addr
        vmas[i].end = addr
        vmas.insert(upper, at: i + 1)
        lastVMA = -1
    }

    /// Merges adjacent VMAs that are compatible (`vma_merge`, simplified: same flags, backing,
    /// anon_vma and contiguous pgoff).
    func mergeVMAs() {
        var i = 0
        while i + 1 < vmas.count {
            let a = vmas[i], b = vmas[i + 1]
            if a.end == b.start && a.flags == b.flags && a.backing == b.backing
                && a.anonVMA == b.anonVMA && a.pageIndex(a.end) == b.pgoff {
                vmas[i].end = b.end
                vmas.remove(at: i + 1)
            } else {
                i += 1
            }
        }
        lastVMA = -1
    }

    func removeVMAs(in range: Range<Int>) {
        vmas.removeSubrange(range)
        lastVMA = -1
    }

    func replaceVMA(at i: Int, with vma: VMA) { vmas[i] = vma }
}
