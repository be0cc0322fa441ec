/// Allocation with direct reclaim (mm/page_alloc.c `__alloc_pages_slowpath` →
/// `__alloc_pages_direct_reclaim`, mm/vmscan.c, `deferred_split_scan`): an order-0 allocation
/// that finds the buddy allocator empty reclaims, then tries once more. Kernel paths call
/// `allocFolio(t, order:)`, where the reclaim is a scheduling step of its own, and so does
/// `__pte_alloc` (`pteAllocOne`); the upper page-table levels (`pmd_alloc`, synchronous in the
/// model) and pagecache allocations (`allocFolioReclaiming`) reclaim without a point. Left
/// out: kswapd, watermarks, compaction, the LRU scan (only what `reclaimMemory` lists is
/// reclaimable), and reclaim for large orders (they fall back to smaller orders instead).
extension World {
    /// `folio_alloc` from a kernel path: order 0 falls back to direct reclaim.
    @inline(__always) func allocFolio(_ t: SimThread, order: Int) async -> PFN? {
        if let f = memory.allocFolio(order: order) { return f }
        return await allocFolioSlowPath(t, order: order)
    }

    /// `__alloc_pages_slowpath`: direct reclaim for order 0, then one more try.
    func allocFolioSlowPath(_ t: SimThread, order: Int) async -> PFN? {
        guard order == 0 else { return nil }
        await schedule(t, "__alloc_pages_slowpath", "direct reclaim", .allocator, .write)
        return allocFolioReclaiming(order: 0)
    }

    /// An allocation that reclaims for order 0 when the buddy allocator is empty, without a
    /// scheduling point (callers that hold a lock or cannot suspend).
    func allocFolioReclaiming(order: Int) -> PFN? {
        if let f = memory.allocFolio(order: order) { return f }
        guard order == 0, reclaimMemory() else { return nil }
        return memory.allocFolio(order: 0)
    }

    /// Memory pressure: frees unmapped, clean swapcache folios (their data is in the slot)
    /// and splits partially mapped folios on the deferred split queue, freeing their unmapped
    /// pages (`deferred_split_scan`). Returns true if anything was freed.
    func reclaimMemory() -> Bool {
        let before = memory.freePages
        for s in 1..<max(swap.slotCount, 1) where swap.cache[s] != 0 {
            let folio = memory.folio(of: PFN(swap.cache[s]))
            guard !memory.isLarge(folio), memory.pageMapcount(folio) == 0, memory.refcountIs(folio, ==, 1),
                  !memory.test(folio, PageFlag.locked) else { continue }
            swap.data[s] = memory.data(folio)
            swap.dropCache(s)
            swap.setSlot(of: folio, nil)
            memory.clear(folio, PageFlag.swapCache)
            memory.folioPut(folio)
        }
        for folio in deferredSplitQueue where memory.test(folio, PageFlag.partiallyMapped) {
            splitFolioFrozen(nil, folio, extraRefs: 0, countIn: nil)
        }
        return memory.freePages > before
    }
}
