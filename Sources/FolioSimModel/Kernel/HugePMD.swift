/// PMD-mapped anonymous THP (mm/huge_memory.c): `do_huge_pmd_anonymous_page`,
/// `do_huge_pmd_wp_page`, `do_huge_zero_wp_pmd` (~6.13+), `huge_pmd_set_accessed`.
/// Left out: userfaultfd, NUMA hinting, PUD-sized mappings, khugepaged collapse.
extension World {
    /// `do_huge_pmd_anonymous_page`: a read maps the huge zero folio (if `use_zero_page`), a
    /// write maps a new PMD-sized folio; VM_FAULT_FALLBACK sends the fault to the PTE level.
    func doHugePMDAnonymousPage(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        let haddr = vmf.address & ~(Geometry.pmdSize - 1)
        guard thpVMASuitableOrder(vmf.vma, vmf.address, Geometry.pmdOrder) else { return .fallback }
        if let r = await vmfAnonPrepare(t, &vmf) { return r }
        if !vmf.isWrite && thp.useZeroPage {
            guard let pgtable = allocPageTablePage() else { return .oom }
            guard let zero = memory.hugeZeroFolio() else {
                freePageTablePage(pgtable)
                return .fallback
            }
            await pmdLock(t, vmf.pmdTable, t.mm, vmf.address)
            if vmfPMD(vmf).isNone {
                let dep = tables.newPTETable(backing: pgtable)
                tables.setDeposited(vmf.pmdTable, VirtualAddress(haddr).pmdIndex, dep)
                setPMD(vmf.pmdTable, haddr, .huge(zero, write: false, dirty: false))
                vmf.kind = .zeropage
                trace(t, "do_huge_pmd_anonymous_page", "map huge zero folio at \(VirtualAddress(haddr))")
            } else {
                freePageTablePage(pgtable)
                vmf.kind = .retry
            }
            await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
            return .zero
        }
        guard let folio = memory.allocFolio(order: Geometry.pmdOrder) else {
            countMTHP(t.mm, order: Geometry.pmdOrder, .anonFaultFallback)
            trace(t, "do_huge_pmd_anonymous_page", "no free 2048kB block: fall back")
            return .fallback
        }
        return await mapAnonFolioPMD(t, &vmf, folio, haddr: haddr, replacing: .none)
    }

    /// `__do_huge_pmd_anonymous_page` / `map_anon_folio_pmd`: install a new PMD-mapped folio
    /// (exclusive, dirty, writable if VM_WRITE, with a deposited PTE table) if the PMD still
    /// holds `replacing`. `do_huge_zero_wp_pmd` uses it with the huge zero PMD, for an unshare
    /// too: the new THP is exclusive, so the kernel maps it like a write would.
    func mapAnonFolioPMD(_ t: SimThread, _ vmf: inout VMFault, _ folio: PFN, haddr: UInt64,
                         replacing old: PMDEntry) async -> VMFaultResult {
        let needsDeposit = old.isNone
        var pgtable: PFN?
        if needsDeposit {
            guard let p = allocPageTablePage() else {
                memory.folioPut(folio)
                return .oom
            }
            pgtable = p
        }
        await pmdLock(t, vmf.pmdTable, t.mm, vmf.address)
        guard vmfPMD(vmf) == old else {
            await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
            if let p = pgtable { freePageTablePage(p) }
            memory.folioPut(folio)
            vmf.kind = .retry
            return .zero
        }
        let writable = vmf.vma.flags.contains(.write)
        folioAddNewAnonRmap(folio, t.mm, pmd: true)
        if let p = pgtable {
            let dep = tables.newPTETable(backing: p)
            tables.setDeposited(vmf.pmdTable, VirtualAddress(haddr).pmdIndex, dep)
        }
        setPMD(vmf.pmdTable, haddr, .huge(folio, write: writable, dirty: true))
        t.mm.rssAnon += Geometry.ptrsPerTable
        deferredSplitFolio(folio, t.mm, partiallyMapped: false)
        countMTHP(t.mm, order: Geometry.pmdOrder, .anonFaultAlloc)
        count(t.mm, Counter.pagesAllocated, Geometry.ptrsPerTable)
        vmf.kind = vmf.isUnshare ? .unshare : .anonymous
        trace(t, "do_huge_pmd_anonymous_page", "map 2048kB folio \(folio) at \(VirtualAddress(haddr)) by PMD (AE)")
        await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
        return .zero
    }

    /// `huge_pmd_set_accessed`.
    func hugePMDSetAccessed(_ t: SimThread, _ vmf: inout VMFault) async {
        await pmdLock(t, vmf.pmdTable, t.mm, vmf.address)
        let haddr = vmf.address & ~(Geometry.pmdSize - 1)
        let cur = vmfPMD(vmf)
        if cur == vmf.origPMD {
            var e = cur.withYoung(true)
            if vmf.isWrite { e = e.withDirty(true) }
            setPMD(vmf.pmdTable, haddr, e)
        }
        vmf.kind = .spurious
        await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
    }

    /// `do_huge_pmd_wp_page`: reuse an exclusive (or provably exclusive) PMD-mapped folio;
    /// otherwise split the PMD and let the PTE level copy one page. A write to the huge zero
    /// PMD allocates a new THP first (`do_huge_zero_wp_pmd`, when the switch is on).
    ///
    /// Mirrors `do_huge_pmd_wp_page()` (mm/huge_memory.c) and keeps that function's shape,
    /// so its length follows the kernel's.
    func doHugePMDWPPage(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        let haddr = vmf.address & ~(Geometry.pmdSize - 1)
        let orig = vmf.origPMD
        if memory.isZeroPage(orig.pfn) {
            // ~6.13+ do_huge_zero_wp_pmd, for a write and an unshare alike.
            if semantics.hugeZeroWPAllocatesTHP {
                if let folio = memory.allocFolio(order: Geometry.pmdOrder) {
                    trace(t, "do_huge_zero_wp_pmd", "replace huge zero PMD at \(VirtualAddress(haddr)) by a new THP")
                    return await mapAnonFolioPMD(t, &vmf, folio, haddr: haddr, replacing: orig)
                }
                countMTHP(t.mm, order: Geometry.pmdOrder, .anonFaultFallback)
            }
            await splitHugePMD(t, t.mm, vmf.vma, haddr)
            return .fallback
        }
        await pmdLock(t, vmf.pmdTable, t.mm, vmf.address)
        guard vmfPMD(vmf) == orig else {
            await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
            vmf.kind = .retry
            return .zero
        }
        let folio = orig.pfn
        var reuse = semantics.hasAnonExclusive && memory.anonExclusive(folio)
        if !semantics.hasAnonExclusive {
            // ≤5.17: `reuse_swap_page` on the THP (refcount-based THP reuse came only with
            // 5.18's COW fixes part 1).
            reuse = reuseSwapPage(folio)
        } else if !reuse {
            if !(await folioTrylock(t, folio)) {
                memory.folioGet(folio)
                await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
                await folioLock(t, folio)
                await pmdLock(t, vmf.pmdTable, t.mm, vmf.address)
                if vmfPMD(vmf) != orig {
                    await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
                    await folioUnlock(t, folio)
                    memory.folioPut(folio)
                    vmf.kind = .retry
                    return .zero
                }
                memory.folioPut(folio)
            }
            if memory.anonExclusive(folio) {
                reuse = true
            } else {
                let swapRefs: Int32 = memory.test(folio, PageFlag.swapCache) ? Int32(memory.nrPages(folio)) : 0
                if memory.refcountIs(folio, <=, 1 + swapRefs) {
                    if memory.test(folio, PageFlag.swapCache) { folioFreeSwap(folio) }
                    if memory.refcountIs(folio, ==, 1) {
                        memory.set(folio, PageFlag.anonExclusive)
                        reuse = true
                    }
                }
            }
            await folioUnlock(t, folio)
        }
        if reuse {
            if vmf.isUnshare {
                vmf.kind = .unshare
                trace(t, "do_huge_pmd_wp_page", "unshare: THP \(folio) is exclusive, keep PMD read-only")
            } else {
                var e = orig.withYoung(true).withDirty(true)
                if vmf.vma.flags.contains(.write) { e = e.withWrite(true) }
                setPMD(vmf.pmdTable, haddr, e)
                vmf.kind = .wpReuse
                trace(t, "do_huge_pmd_wp_page", "reuse THP \(folio)")
            }
            await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
            return .zero
        }
        await pmdUnlock(t, vmf.pmdTable, t.mm, vmf.address)
        trace(t, "do_huge_pmd_wp_page", "THP \(folio) may be shared: split PMD, fall back to PTEs")
        await splitHugePMD(t, t.mm, vmf.vma, haddr)
        return .fallback
    }
}
