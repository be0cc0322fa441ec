/// Unmapping (mm/memory.c): `unmap_page_range` → `zap_pmd_range` → `zap_huge_pmd` /
/// `zap_pte_range` → `zap_present_ptes`, with an mmu_gather that drops folio references only
/// after each table is done (the TLB flush); plus `free_pgtables` and `exit_mmap`.
/// Left out: uffd-wp markers, device entries, hugetlb.
extension World {
    /// Zaps `[start, end)` inside `vma` of `mm`.
    func zapRange(_ t: SimThread, _ mm: MM, _ vma: VMA, _ start: UInt64, _ end: UInt64) async {
        var addr = start
        while addr < end {
            addr = skipToPMDTable(mm, addr, end)
            guard addr < end else { break }
            let next = min((addr & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize, end)
            let pmd = pmdEntry(mm, addr)
            if pmd.isHuge {
                if addr & (Geometry.pmdSize - 1) == 0 && next - addr == Geometry.pmdSize {
                    await zapHugePMD(t, mm, addr)
                    addr = next
                    continue
                }
                await splitHugePMD(t, mm, vma, addr & ~(Geometry.pmdSize - 1))
            }
            if pmdEntry(mm, addr).isTable {
                await zapPTERange(t, mm, vma, addr, next)
            }
            addr = next
        }
    }

    /// `zap_huge_pmd`: clear a PMD mapping of a whole 2 MiB range.
    func zapHugePMD(_ t: SimThread, _ mm: MM, _ haddr: UInt64) async {
        guard let pmdT = pmdTableID(mm, haddr) else { return }
        await pmdLock(t, pmdT, mm, haddr)
        let e = pmdEntry(mm, haddr)
        let idx = VirtualAddress(haddr).pmdIndex
        setPMD(pmdT, haddr, .none)
        let dep = tables.deposited(pmdT, idx)
        tables.setDeposited(pmdT, idx, 0)
        var put: PFN?
        if e.isHuge && !memory.isZeroPage(e.pfn) {
            let folio = e.pfn
            if memory.isAnon(folio) {
                folioRemoveRmapPMD(folio, mm)
                mm.rssAnon -= Geometry.ptrsPerTable
            }
            put = folio
        }
        trace(t, "zap_huge_pmd", "clear PMD at \(VirtualAddress(haddr))")
        await pmdUnlock(t, pmdT, mm, haddr)
        if dep != 0 {
            let backing = tables.pteBacking(dep)
            tables.freePTETable(dep)
            freePageTablePage(backing)
        }
        if let f = put {
            await schedule(t, "zap_huge_pmd", "tlb_remove_page: folio_put", .folio(f), .write)
            freeSwapCache(f)
            folioPut(t, "zap_huge_pmd", f)
        }
    }

    /// `zap_pte_range` over `[start, end)` of one PTE table.
    func zapPTERange(_ t: SimThread, _ mm: MM, _ vma: VMA, _ start: UInt64, _ end: UInt64) async {
        let table = pmdEntry(mm, start).tableID
        var gather: [(PFN, Int32)] = []
        await ptlLock(t, table, mm, start)
        var i = VirtualAddress(start).pteIndex
        let last = i + Int((end - start) >> Geometry.pageShift)
        while i < last {
            let slot = PTESlot(table: table, index: i)
            let p = pte(slot)
            userData.pteCleared(slot)
            if p.isNone { i += 1; continue }
            if p.isPresent {
                guard let page = vmNormalPage(p) else {
                    setPTE(slot, .none)
                    i += 1
                    continue
                }
                let folio = memory.folio(of: page)
                var nr = 1
                if memory.isLarge(folio) && last - i > 1 {
                    nr = folioPTEBatch(folio, PTESlot(table: table, index: i), p, maxNr: last - i,
                                       ignoreDirty: true, ignoreSoftDirty: true).nr
                }
                for j in i..<i + nr {
                    setPTE(PTESlot(table: table, index: j), .none)
                    userData.pteCleared(PTESlot(table: table, index: j))
                }
                if memory.isAnon(folio) {
                    mm.rssAnon -= nr
                } else {
                    mm.rssFile -= nr
                    if p.isDirty { memory.set(folio, PageFlag.dirty) }
                }
                folioRemoveRmapPTEs(folio, page, nr, mm)
                if let lastG = gather.last, lastG.0 == folio {
                    gather[gather.count - 1].1 += Int32(nr)
                } else {
                    gather.append((folio, Int32(nr)))
                }
                i += nr
                continue
            }
            if p.isSwap {
                freeSwapAndCache(p.swapSlot)
                mm.rssSwap -= 1
            }
            setPTE(slot, .none)
            i += 1
        }
        trace(t, "zap_pte_range", "clear \(VirtualAddress(start))–\(VirtualAddress(end))")
        await ptlUnlock(t, table, mm, start)
        // tlb_finish_mmu → free_pages_and_swap_cache: drop useless swapcache copies, then
        // the mappings' references.
        for (folio, n) in gather {
            await schedule(t, "tlb_finish_mmu", "free_pages_and_swap_cache: folio_put", .folio(folio), .write)
            freeSwapCache(folio)
            folioPut(t, "tlb_finish_mmu", folio, n)
        }
    }

    /// `folio_pte_batch`: how many consecutive PTEs from `slot` map consecutive pages of
    /// `folio` with the same bits, ignoring write and young (and dirty / soft-dirty if asked).
    func folioPTEBatch(_ folio: PFN, _ slot: PTESlot, _ first: PTE, maxNr: Int, ignoreDirty: Bool,
                       ignoreSoftDirty: Bool) -> (nr: Int, anyWritable: Bool) {
        var mask = PTE.write | PTE.young
        if ignoreDirty { mask |= PTE.dirty }
        if ignoreSoftDirty { mask |= PTE.softDirty }
        let limit = min(maxNr, memory.nrPages(folio) - (first.pfn - folio), Geometry.ptrsPerTable - slot.index)
        var expected = PTE(raw: first.raw & ~mask)
        var nr = 1
        var anyWritable = first.isWritable
        while nr < limit {
            expected = expected.withPFN(expected.pfn + 1)
            let p = pte(PTESlot(table: slot.table, index: slot.index + nr))
            guard p.isPresent, PTE(raw: p.raw & ~mask) == expected else { break }
            anyWritable = anyWritable || p.isWritable
            nr += 1
        }
        return (nr, anyWritable)
    }

    /// `free_pgtables` / `free_pgd_range`: frees page tables in `[start, end)` that no VMA
    /// covers any more, once no GUP-fast walk of the mm has interrupts disabled
    /// (`tlb_remove_table_sync_one`: the kernel frees page tables behind an IPI or an RCU grace
    /// period, which a walk with interrupts off holds off).
    func freePageTables(_ t: SimThread, _ mm: MM, _ start: UInt64, _ end: UInt64) async {
        await tableFreeSync(t, mm)
        var addr = skipToPMDTable(mm, start & ~(Geometry.pmdSize - 1), end)
        while addr < end {
            let next = addr + Geometry.pmdSize
            if !mm.overlaps(addr, next), let pmdT = pmdTableID(mm, addr) {
                let e = pmdEntry(mm, addr)
                if e.isTable {
                    let backing = tables.pteBacking(e.tableID)
                    tables.freePTETable(e.tableID)
                    freePageTablePage(backing)
                    setPMD(pmdT, addr, .none)
                }
            }
            addr = skipToPMDTable(mm, next, end)
        }
        freeUpperTables(mm, start, end)
    }

    /// Frees PMD and PUD tables in the range that are empty and outside every VMA.
    private func freeUpperTables(_ mm: MM, _ start: UInt64, _ end: UInt64) {
        let pudSpan = Geometry.pudSpan, pgdSpan = Geometry.pgdSpan
        var addr = start & ~(pudSpan - 1)
        while addr < end {
            let next = addr + pudSpan
            let va = VirtualAddress(addr)
            let pud = tables.upperEntry(mm.pgd, va.pgdIndex)
            if pud == 0 {
                addr = (addr & ~(pgdSpan - 1)) + pgdSpan
                continue
            }
            if !mm.overlaps(addr, next) {
                let pmd = tables.upperEntry(pud, va.pudIndex)
                if pmd != 0 && tables.pmdTableIsEmpty(pmd) {
                    let backing = tables.pmdBacking(pmd)
                    tables.freePMDTable(pmd)
                    freePageTablePage(backing)
                    tables.setUpperEntry(pud, va.pudIndex, 0)
                }
                let pgdStart = addr & ~(pgdSpan - 1)
                if tables.upperTableIsEmpty(pud) && !mm.overlaps(pgdStart, pgdStart + pgdSpan) {
                    let backing = tables.upperBacking(pud)
                    tables.freeUpperTable(pud)
                    freePageTablePage(backing)
                    tables.setUpperEntry(mm.pgd, va.pgdIndex, 0)
                }
            }
            addr = next
        }
    }

    /// `exit_mmap`: zap every VMA, free all page tables and the PGD. GUP pins stay valid
    /// references; their pages are freed on unpin.
    package func exitMM(_ t: SimThread) async {
        let mm = t.mm
        guard mm.alive else { return }
        let change = userActivity.begin(mm: mm.index, 0, Geometry.taskSize, .unmap)
        defer { userActivity.end(change) }
        await mmapReadLock(t, mm)
        for vma in mm.vmas { await zapRange(t, mm, vma, vma.start, vma.end) }
        await mmapReadUnlock(t, mm)
        await mmapWriteLock(t, mm)
        let spans = mm.vmas.map { ($0.start, $0.end) }
        mm.removeVMAs(in: 0..<mm.vmas.count)
        for (s, e) in spans { await freePageTables(t, mm, s, e) }
        let pgdBacking = tables.upperBacking(mm.pgd)
        tables.freeUpperTable(mm.pgd)
        freePageTablePage(pgdBacking)
        mm.alive = false
        liveMMs.removeAll { $0 === mm }
        trace(t, "exit_mmap", "\(mm.name) exited")
        await mmapWriteUnlock(t, mm)
    }
}
