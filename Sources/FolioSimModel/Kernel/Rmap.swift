/// Reverse-map accounting (mm/rmap.c, include/linux/rmap.h): mapcounts, the 6.15 MM-ID owner
/// slots, PageAnonExclusive on map/dup/share, and deferred-split queueing on partial unmap.
/// Left out: the anon_vma tree itself (rmap walks find mappings from the folio's page index,
/// see `rmapWalk`), mlock and memcg statistics.
extension World {
    // MARK: large mapcount and MM-ID owner slots (6.15 folio_add/sub_return_large_mapcount)

    /// `folio_add_return_large_mapcount`: adds `d` mappings by `mm` and updates the owner slots.
    func addLargeMapcount(_ folio: PFN, _ d: Int32, _ mm: MM) {
        let id = mm.mmID
        memory.withMeta(folio) { m in
            m.largeMapcount += d
            if m.mmId0 == id {
                m.mmIdCount0 += d
            } else if m.mmId1 == id {
                m.mmIdCount1 += d
            } else if m.mmId0 == 0 {
                m.mmId0 = id
                m.mmIdCount0 = d
                if m.largeMapcount != d { m.maybeMappedShared = true }
            } else if m.mmId1 == 0 {
                m.mmId1 = id
                m.mmIdCount1 = d
                m.maybeMappedShared = true
            }
        }
    }

    /// `folio_sub_return_large_mapcount`: removes `d` mappings by `mm`; frees a slot that drops
    /// to zero and clears the shared bit when one slot accounts for every mapping.
    func subLargeMapcount(_ folio: PFN, _ d: Int32, _ mm: MM) {
        let id = mm.mmID
        memory.withMeta(folio) { m in
            m.largeMapcount -= d
            if m.mmId0 == id {
                m.mmIdCount0 -= d
                if m.mmIdCount0 > 0 { return }
                m.mmIdCount0 = 0
                m.mmId0 = 0
            } else if m.mmId1 == id {
                m.mmIdCount1 -= d
                if m.mmIdCount1 > 0 { return }
                m.mmIdCount1 = 0
                m.mmId1 = 0
            }
            if m.mmIdCount0 == m.largeMapcount || m.mmIdCount1 == m.largeMapcount {
                m.maybeMappedShared = false
            }
        }
    }

    /// `folio_set_large_mapcount` for a new folio mapped `d` times by `mm`.
    func setLargeMapcount(_ folio: PFN, _ d: Int32, _ mm: MM) {
        memory.withMeta(folio) { m in
            m.largeMapcount = d
            m.mmId0 = mm.mmID
            m.mmIdCount0 = d
            m.mmId1 = 0
            m.mmIdCount1 = 0
            m.maybeMappedShared = false
        }
    }

    // MARK: adding mappings

    /// `folio_add_new_anon_rmap(folio, vma, addr, RMAP_EXCLUSIVE)`: a new anon folio mapped
    /// entirely by this mm: by PTEs (`pmd == false`) or by one PMD. Every page (PTE) or the head
    /// (PMD) becomes AE. Also `folio_add_lru`.
    @inline(__always) func folioAddNewAnonRmap(_ folio: PFN, _ mm: MM, pmd: Bool, exclusive: Bool = true) {
        memory.set(folio, PageFlag.anon | PageFlag.swapBacked | PageFlag.uptodate | PageFlag.lru)
        guard memory.isLarge(folio) else {
            memory.setMapcount(folio, 1)
            if exclusive { memory.set(folio, PageFlag.anonExclusive) }
            return
        }
        folioAddNewLargeAnonRmap(folio, mm, pmd: pmd)
    }

    private func folioAddNewLargeAnonRmap(_ folio: PFN, _ mm: MM, pmd: Bool) {
        let nr = memory.nrPages(folio)
        if pmd {
            setLargeMapcount(folio, 1, mm)
            memory.withMeta(folio) { $0.entireMapcount = 1; $0.nrPagesMapped = 0 }
            memory.set(folio, PageFlag.anonExclusive)
        } else {
            setLargeMapcount(folio, Int32(nr), mm)
            memory.withMeta(folio) { $0.nrPagesMapped = Int32(nr) }
            for i in 0..<nr {
                memory.setMapcount(folio + i, 1)
                memory.set(folio + i, PageFlag.anonExclusive)
            }
        }
    }

    /// `folio_add_anon_rmap_ptes`: `nr` pages starting at `page` gain one PTE mapping each; with
    /// `exclusive` (RMAP_EXCLUSIVE) they become AE.
    func folioAddAnonRmapPTEs(_ folio: PFN, _ page: PFN, _ nr: Int, _ mm: MM, exclusive: Bool) {
        memory.set(folio, PageFlag.anon | PageFlag.swapBacked)
        addPTEMappings(folio, page, nr, mm)
        if exclusive {
            for i in 0..<nr { memory.set(page + i, PageFlag.anonExclusive) }
        }
    }

    /// `folio_add_file_rmap_ptes`.
    func folioAddFileRmapPTEs(_ folio: PFN, _ page: PFN, _ nr: Int, _ mm: MM) {
        addPTEMappings(folio, page, nr, mm)
    }

    /// The mapcount part of `__folio_add_rmap` at PTE level.
    private func addPTEMappings(_ folio: PFN, _ page: PFN, _ nr: Int, _ mm: MM) {
        if !memory.isLarge(folio) {
            memory.addMapcount(folio, 1)
            return
        }
        var first: Int32 = 0
        for i in 0..<nr where memory.addMapcount(page + i, 1) == 1 { first += 1 }
        memory.withMeta(folio) { $0.nrPagesMapped += first }
        addLargeMapcount(folio, Int32(nr), mm)
    }

    // MARK: removing mappings

    /// `folio_remove_rmap_ptes`: `nr` pages lose one PTE mapping each. An anon large folio that
    /// is left partially mapped goes on the deferred split queue (`deferred_split_folio`).
    func folioRemoveRmapPTEs(_ folio: PFN, _ page: PFN, _ nr: Int, _ mm: MM) {
        if !memory.isLarge(folio) {
            if memory.addMapcount(folio, -1) < 0 { reportBadMapcount(folio, mm) }
            return
        }
        subLargeMapcount(folio, Int32(nr), mm)
        var last: Int32 = 0
        for i in 0..<nr {
            let m = memory.addMapcount(page + i, -1)
            if m == 0 { last += 1 } else if m < 0 { reportBadMapcount(page + i, mm) }
        }
        var partially = false
        memory.withMeta(folio) { m in
            m.nrPagesMapped -= last
            // `nr` of the kernel: pages that became unmapped while no PMD maps the folio.
            let unmappedNow = m.entireMapcount == 0 ? last : 0
            partially = unmappedNow > 0 && m.nrPagesMapped > 0
        }
        if partially && memory.isAnon(folio) { deferredSplitFolio(folio, mm, partiallyMapped: true) }
    }

    /// `folio_remove_rmap_pmd`.
    func folioRemoveRmapPMD(_ folio: PFN, _ mm: MM) {
        subLargeMapcount(folio, 1, mm)
        var partially = false
        memory.withMeta(folio) { m in
            m.entireMapcount -= 1
            if m.entireMapcount == 0 {
                let nrPMDMapped = Int32(memory.nrPages(folio))
                let nowUnmapped = nrPMDMapped - m.nrPagesMapped
                partially = nowUnmapped > 0 && nowUnmapped < nrPMDMapped
            }
        }
        if partially && memory.isAnon(folio) { deferredSplitFolio(folio, mm, partiallyMapped: true) }
    }

    private func reportBadMapcount(_ page: PFN, _ mm: MM) {
        report(.countsNonNegative, mm, folio: memory.folio(of: page), "mapcount of \(page) went negative on unmap")
    }

    /// `deferred_split_folio(folio, partially_mapped)`: queue a large anon folio; the first time
    /// it is found partially mapped, count `split_deferred` for its size.
    func deferredSplitFolio(_ folio: PFN, _ mm: MM, partiallyMapped: Bool) {
        let order = memory.order(of: folio)
        guard order > 1, !memory.test(folio, PageFlag.swapCache) else { return }
        if partiallyMapped && !memory.test(folio, PageFlag.partiallyMapped) {
            memory.set(folio, PageFlag.partiallyMapped)
            countMTHP(mm, order: order, .splitDeferred)
        }
        if !memory.test(folio, PageFlag.deferredQueued) {
            memory.set(folio, PageFlag.deferredQueued)
            enqueueDeferredSplit(folio)
        }
    }

    // MARK: fork: duplicating mappings

    /// The check half of `folio_try_dup_anon_rmap_ptes` (`__folio_try_dup_anon_rmap` at PTE
    /// level): false (-EBUSY) if the folio may be pinned and any of the pages is AE. Fork runs
    /// it one scheduling step before `folioDupAnonRmapPTEs`, which is the window GUP-fast's
    /// `write_protect_seq` check closes.
    func folioMayDupAnonRmapPTEs(_ folio: PFN, _ page: PFN, _ nr: Int, src: MM) -> Bool {
        guard folioNeedsCOWForDMA(src, folio) else { return true }
        // 5.9–5.18 copied every maybe-pinned page; 5.19+ only the AE ones.
        if semantics.forkPinned == .earlyCOW { return false }
        for i in 0..<nr where memory.anonExclusive(page + i) { return false }
        return true
    }

    /// The commit half of `folio_try_dup_anon_rmap_ptes`: clears AE and adds one mapping per
    /// page for the child `dst`.
    func folioDupAnonRmapPTEs(_ folio: PFN, _ page: PFN, _ nr: Int, dst: MM) {
        for i in 0..<nr { memory.clear(page + i, PageFlag.anonExclusive) }
        addPTEMappings(folio, page, nr, dst)
    }

    /// The check half of `folio_try_dup_anon_rmap_pmd`.
    func folioMayDupAnonRmapPMD(_ folio: PFN, src: MM) -> Bool {
        guard memory.anonExclusive(folio) || semantics.forkPinned == .earlyCOW else { return true }
        return !folioNeedsCOWForDMA(src, folio)
    }

    /// The commit half of `folio_try_dup_anon_rmap_pmd`.
    func folioDupAnonRmapPMD(_ folio: PFN, dst: MM) {
        memory.clear(folio, PageFlag.anonExclusive)
        memory.withMeta(folio) { $0.entireMapcount += 1 }
        addLargeMapcount(folio, 1, dst)
    }

    /// `folio_dup_file_rmap_ptes`.
    func folioDupFileRmapPTEs(_ folio: PFN, _ page: PFN, _ nr: Int, dst: MM) {
        addPTEMappings(folio, page, nr, dst)
    }

    /// `folio_needs_cow_for_dma` (fork only): MMF_HAS_PINNED and `folio_maybe_dma_pinned`.
    /// The S3 switch picks the era; `forkIgnoresPins` is the injected bug.
    func folioNeedsCOWForDMA(_ mm: MM, _ folio: PFN) -> Bool {
        if semantics.forkIgnoresPins || semantics.forkPinned == .share { return false }
        if mm.writeProtectSeq & 1 == 0 {
            report(.writeProtectSeq, mm, folio: folio, "folio_needs_cow_for_dma called outside fork's write section")
        }
        return mm.hasPinned && memory.maybeDMAPinned(folio)
    }

    // MARK: sharing an exclusive page outside fork

    /// `folio_try_share_anon_rmap_pte` (steps A2–A3 of the protocol; the caller cleared the
    /// PTE first and restores it on failure): fails if the folio may be pinned, else clears AE.
    func folioTryShareAnonRmapPTE(_ t: SimThread, _ folio: PFN, _ page: PFN) async -> Bool {
        await schedule(t, "folio_try_share_anon_rmap_pte", "A2 folio_maybe_dma_pinned", .folio(folio), .read)
        if !semantics.tryShareIgnoresPins && memory.maybeDMAPinned(folio) {
            trace(t, "folio_try_share_anon_rmap_pte", "\(page) maybe pinned: -EBUSY")
            return false
        }
        await schedule(t, "folio_try_share_anon_rmap_pte", "A3 ClearPageAnonExclusive", .folio(folio), .write)
        memory.clear(page, PageFlag.anonExclusive)
        trace(t, "folio_try_share_anon_rmap_pte", "clear AE of \(page)")
        return true
    }
}
