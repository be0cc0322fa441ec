/// Splitting (mm/huge_memory.c): `__split_huge_pmd` (a PMD mapping becomes 512 PTEs; the
/// folio stays whole) and `split_folio` (a large folio becomes order-0 folios).
extension World {
    /// `split_huge_pmd`: `__split_huge_pmd_locked` under the PMD lock.
    func splitHugePMD(_ t: SimThread, _ mm: MM, _ vma: VMA, _ haddr: UInt64) async {
        guard let pmdT = pmdTableID(mm, haddr) else { return }
        await pmdLock(t, pmdT, mm, haddr)
        splitHugePMDLocked(t, mm, pmdT, haddr)
        await pmdUnlock(t, pmdT, mm, haddr)
    }

    /// `__split_huge_pmd_locked` (the PMD lock is held): the deposited PTE table is filled and
    /// installed. The huge zero PMD becomes 512 zero-page PTEs; an anon THP becomes 512 PTEs
    /// that inherit write/dirty/young, every page inherits AE of the head, the folio gains 511
    /// references and trades its PMD mapping for PTE mappings (so it is never seen partially
    /// mapped: the freeze variant used by `split_folio` counts the same).
    func splitHugePMDLocked(_ t: SimThread?, _ mm: MM, _ pmdT: Int32, _ haddr: UInt64) {
        let e = pmdEntry(mm, haddr)
        guard e.isHuge else { return }
        let pmdIdx = VirtualAddress(haddr).pmdIndex
        let dep = tables.deposited(pmdT, pmdIdx)
        tables.setDeposited(pmdT, pmdIdx, 0)
        let folio = e.pfn
        if memory.isZeroPage(folio) {
            for i in 0..<Geometry.ptrsPerTable {
                setPTE(PTESlot(table: dep, index: i), .page(memory.zeroPFN, write: false, dirty: false, young: true, special: true))
            }
            if let t { trace(t, "__split_huge_zero_page_pmd", "huge zero PMD at \(VirtualAddress(haddr)) → 512 zero-page PTEs") }
        } else {
            let exclusive = memory.anonExclusive(folio)
            memory.folioGet(folio, Int32(Geometry.ptrsPerTable - 1))
            if memory.isAnon(folio) {
                folioAddAnonRmapPTEs(folio, folio, Geometry.ptrsPerTable, mm, exclusive: exclusive)
            } else {
                folioAddFileRmapPTEs(folio, folio, Geometry.ptrsPerTable, mm)
            }
            let base = PTE.page(folio, write: e.isWritable, dirty: e.isDirty, young: e.isYoung)
            for i in 0..<Geometry.ptrsPerTable { setPTE(PTESlot(table: dep, index: i), base.withPFN(folio + i)) }
            folioRemoveRmapPMD(folio, mm)
            if let t { trace(t, "__split_huge_pmd_locked", "PMD of THP \(folio) at \(VirtualAddress(haddr)) → 512 PTEs\(exclusive ? " (AE)" : "")") }
        }
        setPMD(pmdT, haddr, .table(dep))
    }

    /// `can_split_folio`: no references besides mappings, swapcache and the caller's `extra`.
    func canSplitFolio(_ folio: PFN, extraRefs: Int32) -> Bool {
        let m = memory.meta(folio)
        let swapRefs: Int32 = memory.test(folio, PageFlag.swapCache) ? Int32(memory.nrPages(folio)) : 0
        return memory.refcountIs(folio, ==, m.largeMapcount + swapRefs + extraRefs)
    }

    /// `split_folio` (`__split_huge_page` to order 0) of an anon folio: every page becomes an
    /// order-0 folio that keeps its mapcount, AE bit, data and swapcache slot; references are
    /// redistributed (one per mapping, one per swapcache page). PMD mappings are split into
    /// PTEs first (`unmap_folio` freezes them; `index` is the folio's page index, to find
    /// them). Fails, counting `split_failed`, when other references exist (`can_split_folio`),
    /// e.g. a GUP pin. `unmap_folio` removes PTE mappings one at a time, which leaves a
    /// PTE-mapped folio partially mapped for a moment: the kernel counts that as
    /// `split_deferred`, and so does this. `mm` is the process the work is counted for; nil
    /// counts it for the system (reclaim).
    ///
    /// Each PMD mapping is split under its PMD lock, then the folio is split in one step
    /// (frozen: no other path can use it meanwhile). The caller holds the folio lock and a
    /// reference (`extraRefs`: madvise's `folio_get`, reclaim's isolation), which keep the
    /// folio alive across the PMD locks.
    @discardableResult
    func splitFolio(_ t: SimThread, _ folio: PFN, index: UInt64? = nil, extraRefs: Int32, isolateTails: Bool = false,
                    countIn mm: MM?) async -> Bool {
        guard memory.order(of: folio) > 0 else { return true }
        let pmdMapped = memory.meta(folio).entireMapcount > 0
        guard canSplitFolio(folio, extraRefs: extraRefs), !pmdMapped || index != nil else {
            return splitFolioFrozen(t, folio, index: index, extraRefs: extraRefs, isolateTails: isolateTails, countIn: mm, wasPMDMapped: pmdMapped)
        }
        if pmdMapped, let index {
            for hit in rmapWalkPMD(folio, index: index) {
                await pmdLock(t, hit.slot.table, hit.mm, hit.addr, "unmap_folio")
                splitHugePMDLocked(t, hit.mm, hit.slot.table, hit.addr)
                await pmdUnlock(t, hit.slot.table, hit.mm, hit.addr, "unmap_folio")
            }
        }
        await schedule(t, "__split_huge_page", "split the frozen folio", .folio(folio), .write)
        return splitFolioFrozen(t, folio, index: index, extraRefs: extraRefs, isolateTails: isolateTails, countIn: mm, wasPMDMapped: pmdMapped)
    }

    /// The body of `split_folio` once PMD mappings are split (or, for reclaim's deferred split
    /// of PTE-mapped folios, none exist): checks, counts and rewrites the memmap in one step.
    @discardableResult
    func splitFolioFrozen(_ t: SimThread?, _ folio: PFN, index: UInt64? = nil, extraRefs: Int32, isolateTails: Bool = false,
                          countIn mm: MM?, wasPMDMapped: Bool = false) -> Bool {
        let order = memory.order(of: folio)
        guard order > 0 else { return true }
        let nr = memory.nrPages(folio)
        let inSwapCache = memory.test(folio, PageFlag.swapCache)
        let pmdMapped = wasPMDMapped || memory.meta(folio).entireMapcount > 0
        guard canSplitFolio(folio, extraRefs: extraRefs), !pmdMapped || index != nil else {
            countMTHP(mm, order: order, .splitFailed)
            if let t { trace(t, "split_folio", "cannot split \(FolioOrder(order)) folio \(folio): extra references") }
            return false
        }
        if pmdMapped, let index {
            for hit in rmapWalkPMD(folio, index: index) { splitHugePMDLocked(t, hit.mm, hit.slot.table, hit.addr) }
        }
        let m = memory.meta(folio)
        if memory.isAnon(folio) && order > 1 && m.nrPagesMapped >= 2 && !inSwapCache && !pmdMapped
            && !memory.test(folio, PageFlag.partiallyMapped) {
            countMTHP(mm, order: order, .splitDeferred)
        }
        let freed = memory.splitToOrder0(folio, perPageRef: inSwapCache ? 1 : 0, headExtra: extraRefs,
                                         mappedTailExtra: isolateTails ? 1 : 0)
        countMTHP(mm, order: order, .split)
        if let t { trace(t, "split_folio", "\(FolioOrder(order)) folio \(folio) → \(nr) order-0 folios") }
        for p in freed { memory.freeFolio(p) }
        return true
    }
}
