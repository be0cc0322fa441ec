/// One mapping of a page found by an rmap walk.
struct RmapHit {
    var mm: MM
    var slot: PTESlot
    var addr: UInt64
}

/// Swap (mm/madvise.c, mm/vmscan.c, mm/rmap.c, mm/swapfile.c, mm/memory.c):
/// `madvise_cold_or_pageout_pte_range` → `reclaim_pages` → `shrink_folio_list` (`add_to_swap`,
/// `try_to_unmap` → `try_to_unmap_one` with `folio_try_share_anon_rmap_pte`, `pageout`), and
/// `do_swap_page` (`swap_cache_get_folio`, `__read_swap_cache_async`), `folio_free_swap`,
/// `free_swap_and_cache`, `free_swap_cache`.
///
/// The swap device is rotational: large folios cannot be swapped out whole (as on the host
/// this was checked on), so they are split first (`swpout_fallback`). Written-out folios stay
/// in the swapcache, as they do after MADV_PAGEOUT on Linux, until an order-0 allocation fails
/// and `reclaimMemory` frees them. Left out: readahead, zswap, SWP_SYNCHRONOUS_IO, MADV_COLD.
extension World {
    /// `folio_maybe_mapped_shared` (6.15; `folio_likely_mapped_shared` before).
    func folioMaybeMappedShared(_ folio: PFN) -> Bool {
        if !memory.isLarge(folio) { return memory.pageMapcount(folio) > 1 }
        let m = memory.meta(folio)
        if m.largeMapcount <= 1 { return false }
        if semantics.anonReuse == .aeMMID { return m.maybeMappedShared }
        return m.entireMapcount > 0 || Int(m.largeMapcount) > memory.nrPages(folio) || memory.pageMapcount(folio) > 1
    }

    /// MADV_PAGEOUT over `[start, end)` of one VMA (`madvise_cold_or_pageout_pte_range`): a
    /// huge PMD is looked at under the PMD lock, PTEs under the PTL. A large folio that is only
    /// partly in the range is split: trylocked under the PTL and held by a reference
    /// (`folio_get`) while the PTL is dropped for `split_folio`; the scan then restarts at the
    /// same address under the PTL. The folios collected are isolated from the LRU
    /// (`folio_isolate_lru`, a reference each) and go to `reclaim_pages` after the PTL is
    /// dropped; the isolation reference keeps each alive until reclaim puts it back.
    ///
    /// Mirrors `madvise_cold_or_pageout_pte_range()` (mm/madvise.c) and keeps that function's
    /// shape, so its length follows the kernel's.
    func madvisePageout(_ t: SimThread, _ mm: MM, _ vma: VMA, _ start: UInt64, _ end: UInt64) async {
        guard vma.isAnonymous || vma.isCOWMapping else { return }
        var addr = start
        while addr < end {
            addr = skipToPMDTable(mm, addr, end)
            guard addr < end else { break }
            let next = min((addr & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize, end)
            guard let pmdT = pmdTableID(mm, addr) else { addr = next; continue }
            await pmdLock(t, pmdT, mm, addr)
            let pmd = pmdEntry(mm, addr)
            await pmdUnlock(t, pmdT, mm, addr)
            if pmd.isHuge {
                let folio = pmd.pfn
                if memory.isZeroPage(folio) || folioMaybeMappedShared(folio) { addr = next; continue }
                let index = vma.pageIndex(addr & ~(Geometry.pmdSize - 1))
                if next - addr == Geometry.pmdSize {
                    if folioIsolateLRU(folio) { await reclaimPages(t, mm, [(folio, index)]) }
                    addr = next
                    continue
                }
                guard await folioTrylock(t, folio) else { addr = next; continue }
                memory.folioGet(folio)
                let split = await splitFolio(t, folio, index: index, extraRefs: 1, countIn: mm)
                await folioUnlock(t, folio)
                folioPut(t, "madvise_cold_or_pageout_pte_range", folio)
                guard split else { addr = next; continue }
            }
            guard pmdEntry(mm, addr).isTable else { addr = next; continue }
            let table = pmdEntry(mm, addr).tableID
            var list: [(PFN, UInt64)] = []
            var a = addr
            await ptlLock(t, table, mm, addr)
            while a < next {
                let p = pte(PTESlot(table: table, index: VirtualAddress(a).pteIndex))
                guard let page = vmNormalPage(p) else { a += Geometry.pageSize; continue }
                let folio = memory.folio(of: page)
                var nr = 1
                if memory.isLarge(folio) {
                    let slot = PTESlot(table: table, index: VirtualAddress(a).pteIndex)
                    nr = folioPTEBatch(folio, slot, p, maxNr: Int((next - a) >> Geometry.pageShift),
                                       ignoreDirty: true, ignoreSoftDirty: true).nr
                    if nr < memory.nrPages(folio) {
                        if !folioMaybeMappedShared(folio) && memory.isAnon(folio), await folioTrylock(t, folio) {
                            memory.folioGet(folio)
                            await ptlUnlock(t, table, mm, addr)
                            let split = await splitFolio(t, folio, index: vma.pageIndex(a) - UInt64(page - folio), extraRefs: 1, countIn: mm)
                            await folioUnlock(t, folio)
                            folioPut(t, "madvise_cold_or_pageout_pte_range", folio)
                            await ptlLock(t, table, mm, addr)
                            if split { continue }
                        }
                        a += UInt64(nr) * Geometry.pageSize
                        continue
                    }
                }
                if memory.test(folio, PageFlag.lru) && Int(memory.folioMapcount(folio)) == memory.nrPages(folio)
                    && memory.isAnon(folio) && list.last?.0 != folio && folioIsolateLRU(folio) {
                    list.append((folio, vma.pageIndex(a) - UInt64(page - folio)))
                }
                a += UInt64(nr) * Geometry.pageSize
            }
            await ptlUnlock(t, table, mm, addr)
            await reclaimPages(t, mm, list)
            addr = next
        }
    }

    /// `folio_isolate_lru`: takes a folio off the LRU for reclaim, with a reference; false if
    /// it is not on the LRU.
    func folioIsolateLRU(_ folio: PFN) -> Bool {
        guard memory.test(folio, PageFlag.lru) else { return false }
        memory.clear(folio, PageFlag.lru)
        memory.folioGet(folio)
        return true
    }

    /// `folio_putback_lru`: back on the LRU, the isolation reference dropped.
    func folioPutbackLRU(_ t: SimThread, _ folio: PFN) {
        memory.set(folio, PageFlag.lru)
        folioPut(t, "reclaim_folio_list", folio)
    }

    /// `reclaim_pages` → `shrink_folio_list` for isolated anon folios: split large ones, add to
    /// swap, unmap everywhere, write out, then put each back (`reclaim_folio_list`). Each folio
    /// of the list holds its isolation reference throughout, which keeps it alive: another
    /// thread's unmap may drop every other reference meanwhile. `index` is the folio's linear
    /// page index.
    func reclaimPages(_ t: SimThread, _ mm: MM, _ list: [(PFN, UInt64)]) async {
        var work = list
        var i = 0
        while i < work.count {
            let (folio, index) = work[i]
            i += 1
            await shrinkFolio(t, mm, folio, index, &work)
            folioPutbackLRU(t, folio)
        }
    }

    /// One folio of `shrink_folio_list`, under its folio lock. A split puts the tail pages
    /// that are still mapped on `work`, isolated.
    private func shrinkFolio(_ t: SimThread, _ mm: MM, _ folio: PFN, _ index: UInt64, _ work: inout [(PFN, UInt64)]) async {
        await folioLock(t, folio)
        if !memory.test(folio, PageFlag.swapCache) {
            // 5.11+ (feb889fb40fa): a maybe-pinned anon folio never enters the swap cache.
            if semantics.pinnedSwapout == .keep && memory.maybeDMAPinned(folio) {
                trace(t, "shrink_folio_list", "\(folio) may be pinned: keep")
                await folioUnlock(t, folio)
                return
            }
            if memory.isLarge(folio) {
                let order = memory.order(of: folio)
                let nr = memory.nrPages(folio)
                // can_split_folio first (counts nothing), then the failed whole-folio
                // add_to_swap of a rotational device, then split_folio_to_list.
                guard canSplitFolio(folio, extraRefs: 1),
                      await splitFolio(t, folio, index: index, extraRefs: 1, isolateTails: true, countIn: mm) else {
                    await folioUnlock(t, folio)
                    return
                }
                countMTHP(mm, order: order, .swpoutFallback)
                for k in 1..<nr {
                    let p = folio + k
                    guard memory.isAllocated(p) else { continue }
                    memory.clear(p, PageFlag.locked)
                    // Mapped tails are isolated on the list; the others go back to the LRU.
                    if memory.pageMapcount(p) > 0 { work.append((p, index + UInt64(k))) } else { memory.set(p, PageFlag.lru) }
                }
                if memory.pageMapcount(folio) == 0 {
                    await folioUnlock(t, folio)
                    return
                }
            }
            guard let slot = swap.allocate(1, for: folio) else {
                trace(t, "shrink_folio_list", "no free swap slot for \(folio)")
                await folioUnlock(t, folio)
                return
            }
            memory.set(folio, PageFlag.swapCache | PageFlag.dirty)
            memory.folioGet(folio)
            trace(t, "add_to_swap", "\(folio) → swap slot \(slot)")
        }
        let ok = await tryToUnmap(t, folio, index: index)
        if ok, let slot = swap.slot(of: folio) {
            swap.data[slot] = memory.data(folio)
            memory.clear(folio, PageFlag.dirty)
            trace(t, "pageout", "\(folio) written to swap slot \(slot)")
        }
        await folioUnlock(t, folio)
    }

    /// The addresses where an anon folio with linear page index `index` can be mapped: in
    /// every anon VMA of every live mm whose page-offset range contains the index (the
    /// kernel walks the anon_vma tree; VMAs keep `vm_pgoff` across fork and mremap).
    private func rmapAddresses(index: UInt64) -> [(MM, UInt64)] {
        var out: [(MM, UInt64)] = []
        for mm in mms where mm.alive {
            for vma in mm.vmas where vma.anonVMA != 0 && index >= vma.pgoff {
                let off = index - vma.pgoff
                if off < vma.size >> Geometry.pageShift { out.append((mm, vma.start + off << Geometry.pageShift)) }
            }
        }
        return out
    }

    /// The PTE mappings of an anon folio's page (`rmap_walk` for `try_to_unmap`).
    func rmapWalk(_ folio: PFN, index: UInt64) -> [RmapHit] {
        rmapAddresses(index: index).compactMap { mm, addr in
            guard let s = pteSlot(mm, addr) else { return nil }
            let p = pte(s)
            return p.isPresent && !p.isSpecial && p.pfn == folio ? RmapHit(mm: mm, slot: s, addr: addr) : nil
        }
    }

    /// The PMD mappings of an anon THP; `slot` names the PMD table and index.
    func rmapWalkPMD(_ folio: PFN, index: UInt64) -> [RmapHit] {
        rmapAddresses(index: index).compactMap { mm, addr in
            guard let pmdT = pmdTableID(mm, addr) else { return nil }
            let e = pmdEntry(mm, addr)
            guard e.isHuge && e.pfn == folio else { return nil }
            return RmapHit(mm: mm, slot: PTESlot(table: pmdT, index: VirtualAddress(addr).pmdIndex), addr: addr)
        }
    }

    /// `try_to_unmap` of an order-0 swapcache folio: `try_to_unmap_one` for every mapping.
    /// Returns false if some mapping stayed (the page may be pinned).
    func tryToUnmap(_ t: SimThread, _ folio: PFN, index: UInt64) async -> Bool {
        guard let slot = swap.slot(of: folio) else { return false }
        for hit in rmapWalk(folio, index: index) {
            guard await tryToUnmapOne(t, hit, folio, slot) else { return false }
        }
        return memory.pageMapcount(folio) == 0
    }

    /// `try_to_unmap_one` for one PTE: (A1) clear it, (A2/A3) try to share an exclusive page
    /// (fails when maybe pinned: restore), (A4) install a swap PTE that remembers AE.
    func tryToUnmapOne(_ t: SimThread, _ hit: RmapHit, _ folio: PFN, _ slot: Int) async -> Bool {
        await ptlLock(t, hit.slot.table, hit.mm, hit.addr)
        let old = pte(hit.slot)
        guard old.isPresent, old.pfn == folio else {
            await ptlUnlock(t, hit.slot.table, hit.mm, hit.addr)
            return true
        }
        let exclusive = memory.anonExclusive(folio)
        setPTE(hit.slot, .none)
        trace(t, "try_to_unmap_one", "A1 clear PTE at \(VirtualAddress(hit.addr)) of \(hit.mm.name)")
        let shared = exclusive ? await folioTryShareAnonRmapPTE(t, folio, folio) : true
        if !shared {
            setPTE(hit.slot, old)
            trace(t, "try_to_unmap_one", "restore PTE at \(VirtualAddress(hit.addr)): page may be pinned")
            await ptlUnlock(t, hit.slot.table, hit.mm, hit.addr)
            return false
        }
        if old.isDirty { memory.set(folio, PageFlag.dirty) }
        swap.count[slot] += 1
        let carry = exclusive && semantics.exclusiveCarry == .carry
        setPTE(hit.slot, PTE.swap(slot: slot, exclusive: carry).withSoftDirty(old.isSoftDirty).withUffdWp(old.isUffdWp))
        hit.mm.rssAnon -= 1
        hit.mm.rssSwap += 1
        folioRemoveRmapPTEs(folio, folio, 1, hit.mm)
        trace(t, "try_to_unmap_one", "A4 swap PTE slot \(slot)\(carry ? " (exclusive)" : "") at \(VirtualAddress(hit.addr)) of \(hit.mm.name)")
        await ptlUnlock(t, hit.slot.table, hit.mm, hit.addr)
        memory.folioPut(folio)
        return true
    }

    /// `reuse_swap_page` (≤5.17, via `page_trans_huge_map_swapcount`): whether `page` may be
    /// written in place because at most one mapping or swap entry refers to it; references
    /// (pins, pipes) are ignored. For a large folio the most-referenced subpage counts, with
    /// the entire (PMD) mapcount. Used by `do_wp_page` (≤5.8), `do_swap_page` and
    /// `do_huge_pmd_wp_page` under the rules before PageAnonExclusive.
    func reuseSwapPage(_ page: PFN) -> Bool {
        let folio = memory.folio(of: page)
        guard memory.isLarge(folio) else { return memory.pageMapcount(page) + swapCount(of: page) <= 1 }
        let entire = memory.meta(folio).entireMapcount
        var most: Int32 = 0
        for i in 0..<memory.nrPages(folio) { most = max(most, memory.pageMapcount(folio + i) + swapCount(of: folio + i)) }
        return entire + most <= 1
    }

    /// Number of swap PTEs referring to `page`'s slot (0 if not in the swapcache).
    func swapCount(of page: PFN) -> Int32 {
        guard memory.test(page, PageFlag.swapCache), let s = swap.slot(of: memory.folio(of: page)) else { return 0 }
        return swap.count[s + (page - memory.folio(of: page))]
    }

    /// `folio_free_swap`: drop the swapcache copy if no swap PTE refers to it any more.
    @discardableResult
    func folioFreeSwap(_ folio: PFN) -> Bool {
        guard memory.test(folio, PageFlag.swapCache), let slot = swap.slot(of: folio) else { return false }
        let nr = memory.nrPages(folio)
        for s in slot..<slot + nr where swap.count[s] > 0 { return false }
        for s in slot..<slot + nr { swap.dropCache(s) }
        swap.setSlot(of: folio, nil)
        memory.clear(folio, PageFlag.swapCache)
        memory.set(folio, PageFlag.dirty)
        memory.folioPut(folio, Int32(nr))
        return true
    }

    /// `free_swap_cache`: after a COW copy, drop an unmapped folio's swapcache copy.
    func freeSwapCache(_ folio: PFN) {
        guard memory.test(folio, PageFlag.swapCache), memory.folioMapcount(folio) == 0,
              !memory.test(folio, PageFlag.locked) else { return }
        folioFreeSwap(folio)
    }

    /// `free_swap_and_cache`: a zapped swap PTE drops its count; an unmapped swapcache folio
    /// with no swap PTEs left is removed from the swapcache (and freed if nothing else holds it).
    func freeSwapAndCache(_ slot: Int) {
        swap.put(slot)
        guard swap.count[slot] == 0, swap.cache[slot] != 0 else { return }
        let folio = memory.folio(of: PFN(swap.cache[slot]))
        if memory.folioMapcount(folio) == 0 && !memory.test(folio, PageFlag.locked) { folioFreeSwap(folio) }
    }

    enum SwapInFolio: Equatable {
        /// The swapcache folio of the slot, with a reference for the caller.
        case folio(PFN)
        /// The slot was freed meanwhile (`swapcache_prepare` → -ENOENT): the PTE changed.
        case gone
        case oom
    }

    /// `swap_cache_get_folio`, else `swapin_readahead` → `__read_swap_cache_async` for one
    /// slot, with the PTL not held: the lockless lookup takes a reference (`folio_try_get`);
    /// a miss allocates an order-0 folio and enters it in the swapcache
    /// (`swapcache_prepare`). When another fault entered the slot first (-EEXIST), the new
    /// folio is put and the lookup runs again. Left out: readahead, SWP_SYNCHRONOUS_IO,
    /// large folios, the memcg charge.
    func swapCacheGetOrRead(_ t: SimThread, _ slot: Int) async -> SwapInFolio {
        while true {
            await schedule(t, "swap_cache_get_folio", "filemap_get_folio: folio_try_get", .swapSlot(slot), .read)
            if swap.cache[slot] != 0 {
                let folio = memory.folio(of: PFN(swap.cache[slot]))
                memory.folioGet(folio)
                return .folio(folio)
            }
            guard let f = await allocFolio(t, order: 0) else { return .oom }
            await schedule(t, "__read_swap_cache_async", "swapcache_prepare", .swapSlot(slot), .write)
            if swap.cache[slot] != 0 || swap.count[slot] == 0 {
                let raced = swap.cache[slot] != 0
                trace(t, "__read_swap_cache_async", raced ? "slot \(slot) cached meanwhile: folio_put \(f), look again"
                                                          : "slot \(slot) freed meanwhile: folio_put \(f)")
                memory.folioPut(f)
                if raced { continue }
                return .gone
            }
            memory.setData(f, swap.data[slot])
            memory.set(f, PageFlag.swapCache | PageFlag.swapBacked | PageFlag.uptodate | PageFlag.lru)
            swap.cache[slot] = f.raw
            swap.setSlot(of: f, slot)
            memory.folioGet(f)
            trace(t, "swapin_readahead", "read slot \(slot) into \(f)")
            return .folio(f)
        }
    }

    /// `do_swap_page` for a swap PTE: find the folio in the swapcache or read it from the slot
    /// (a new order-0 folio), then under the PTL and folio lock map it: exclusive (and writable
    /// if VM_WRITE) when the swap PTE remembered exclusivity or nothing else holds the folio,
    /// else read-only and shared, continuing a write in `do_wp_page`. Outside the PTL the
    /// folio is kept alive by the reference of the swapcache lookup (`swap_cache_get_folio`)
    /// or of the new folio's allocation; the swap slot by `swapcache_prepare`.
    ///
    /// Mirrors `do_swap_page()` (mm/memory.c) and keeps that function's shape, so its length
    /// follows the kernel's.
    func doSwapPage(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        let orig = vmf.origPTE
        guard orig.isSwap else { return .sigbus }
        let slot = orig.swapSlot
        let s = vmf.slot!
        let found = await swapCacheGetOrRead(t, slot)
        guard case .folio(let folio) = found else {
            if found == .oom { return .oom }
            vmf.kind = .retry
            return .zero
        }
        let page = folio
        await folioLock(t, folio)
        await ptlLock(t, s.table, t.mm, vmf.address)
        guard pteSame(s, orig), memory.test(folio, PageFlag.swapCache), swap.slot(of: folio) == slot else {
            await ptlUnlock(t, s.table, t.mm, vmf.address)
            await folioUnlock(t, folio)
            await schedule(t, "do_swap_page", "folio_put", .folio(folio), .write)
            folioPut(t, "do_swap_page", folio)
            vmf.kind = .retry
            return .zero
        }
        if memory.isAnon(folio) && memory.anonExclusive(page) {
            report(.swapPageNotExclusive, t.mm, addr: vmf.address, folio: folio, "do_swap_page: page reached through a swap PTE is AE")
        }
        let exclusive = orig.isSwapExclusive && semantics.exclusiveCarry == .carry
        // ≤5.18: only a write fault reuses, by `reuse_swap_page`, asked while this PTE's swap
        // entry still counts (it is freed below).
        let reuseOld = !semantics.hasAnonExclusive && vmf.isWrite && vmf.vma.flags.contains(.write) && reuseSwapPage(page)
        swap.put(slot)
        let freeSwap = vmf.vma.flags.contains(.locked) || swap.isHalfFull
            || (vmf.isWrite && memory.refcountIs(folio, ==, 2))
        if freeSwap { folioFreeSwap(folio) }
        t.mm.rssAnon += 1
        t.mm.rssSwap -= 1
        var e = PTE.page(page, write: false, dirty: false, young: true).withSoftDirty(orig.isSoftDirty).withUffdWp(orig.isUffdWp)
        var rmapExclusive = false
        if !semantics.hasAnonExclusive {
            if reuseOld {
                e = e.withWrite(true).withDirty(true)
                vmf.flags.remove(.write)
                rmapExclusive = true
            }
        } else if exclusive || memory.refcountIs(folio, ==, 1) {
            if vmf.vma.flags.contains(.write) && !e.isUffdWp && (vmf.vma.flags.contains(.softDirty) || e.isSoftDirty) {
                e = e.withWrite(true)
                if vmf.isWrite {
                    e = e.withDirty(true)
                    vmf.flags.remove(.write)
                }
            }
            rmapExclusive = true
        }
        if !memory.isAnon(folio) {
            folioAddNewAnonRmap(folio, t.mm, pmd: false, exclusive: rmapExclusive)
        } else {
            folioAddAnonRmapPTEs(folio, page, 1, t.mm, exclusive: rmapExclusive)
        }
        if e.isWritable && !memory.anonExclusive(page) {
            report(.writablePTEImpliesExclusive, t.mm, addr: vmf.address, folio: folio, "do_swap_page mapped a non-exclusive page writable")
        }
        setPTE(s, e)
        vmf.kind = .swapin
        trace(t, "do_swap_page", "map \(page) from slot \(slot) at \(VirtualAddress(vmf.address))\(rmapExclusive ? " (AE)" : " shared")\(e.isWritable ? " writable" : "")")
        await folioUnlock(t, folio)
        if vmf.isWrite {
            vmf.origPTE = e
            let ret = await doWPPage(t, &vmf)
            vmf.kind = .swapin
            return ret
        }
        await ptlUnlock(t, s.table, t.mm, vmf.address)
        return .zero
    }
}
