/// fork (kernel/fork.c `dup_mmap`, mm/memory.c `copy_page_range` → `copy_pmd_range` →
/// `copy_huge_pmd` / `copy_pte_range` → `copy_present_ptes` / `copy_present_page` /
/// `copy_nonpresent_pte`). Left out: the resched/contention restart every 32 PTEs, migration
/// and device entries, uffd-wp, hugetlb, swap count continuations.
extension World {
    /// `dup_mmap` for a new child process called `childName`. The child has one thread.
    package func fork(_ t: SimThread, childName: String) async throws(MMError) -> SimThread {
        let parent = t.mm
        await mmapWriteLock(t, parent)
        guard let child = createProcess(name: childName) else {
            await mmapWriteUnlock(t, parent)
            throw .enomem("no page for the child's PGD")
        }
        let cmm = child.mm
        await mmapWriteLock(child, cmm)
        trace(t, "dup_mmap", "fork \(parent.name) → \(childName)")
        var failed: MMError?
        for vma in parent.vmas {
            // 6.4+: no fault may run under this VMA's own lock while fork copies it.
            await vmaStartWrite(t, parent, vma)
            if vma.flags.contains(.dontCopy) {
                trace(t, "dup_mmap", "skip VM_DONTCOPY \(VirtualAddress(vma.start))–\(VirtualAddress(vma.end))")
                continue
            }
            var cv = vma
            cv.flags.remove(.locked)
            if vma.flags.contains(.wipeOnFork) {
                cv.anonVMA = 0
                cmm.insertVMA(cv)
                trace(t, "dup_mmap", "VM_WIPEONFORK \(VirtualAddress(vma.start)): child gets fresh memory")
                continue
            }
            if vma.anonVMA != 0 {
                cv.anonVMA = newAnonVMA()
                cv.anonVMAInherited = true
            }
            cmm.insertVMA(cv)
            if vma.anonVMA != 0 || vma.flags.contains(.uffdWp) || vma.flags.contains(.pfnMap) {
                if let e = await copyPageRange(t, dst: cmm, src: parent, vma) {
                    failed = e
                    break
                }
            }
        }
        await mmapWriteUnlock(child, cmm)
        await mmapWriteUnlock(t, parent)
        if let failed {
            await exitMM(child)
            throw failed
        }
        return child
    }

    /// `copy_page_range`: inside `write_protect_seq` for COW mappings.
    func copyPageRange(_ t: SimThread, dst: MM, src: MM, _ vma: VMA) async -> MMError? {
        let isCOW = vma.isCOWMapping
        if isCOW {
            await schedule(t, "copy_page_range", "raw_write_seqcount_begin", .seqcount(mm: src.index), .write)
            src.writeProtectSeq &+= 1
            trace(t, "copy_page_range", "write_protect_seq begin (\(src.writeProtectSeq))")
        }
        var result: MMError?
        var addr = vma.start
        while addr < vma.end {
            addr = skipToPMDTable(src, addr, vma.end)
            guard addr < vma.end else { break }
            let next = min((addr & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize, vma.end)
            let pmd = pmdEntry(src, addr)
            if pmd.isHuge && next - addr == Geometry.pmdSize {
                let r = await copyHugePMD(t, dst: dst, src: src, vma, addr)
                if r == .copied { addr = next; continue }
                if r == .oom { result = .enomem("fork: page table"); break }
            }
            if pmdEntry(src, addr).isTable {
                if let e = await copyPTERange(t, dst: dst, src: src, vma, addr, next) { result = e; break }
            }
            addr = next
        }
        if isCOW {
            await schedule(t, "copy_page_range", "raw_write_seqcount_end", .seqcount(mm: src.index), .write)
            src.writeProtectSeq &+= 1
            trace(t, "copy_page_range", "write_protect_seq end (\(src.writeProtectSeq))")
        }
        return result
    }

    enum HugeCopy { case copied, fallback, oom }

    /// `copy_huge_pmd`: share a PMD-mapped anon THP (or the huge zero PMD) read-only; a
    /// maybe-pinned exclusive THP is split in the parent and copied PTE by PTE instead.
    func copyHugePMD(_ t: SimThread, dst: MM, src: MM, _ vma: VMA, _ haddr: UInt64) async -> HugeCopy {
        guard vma.isAnonymous else { return .copied }
        guard let dstPMD = pmdTableAlloc(dst, haddr), let pgtable = allocPageTablePage() else { return .oom }
        let srcPMD = pmdTableID(src, haddr)!
        await pmdLock(t, dstPMD, dst, haddr)
        await pmdLock(t, srcPMD, src, haddr)
        let e = pmdEntry(src, haddr)
        guard e.isHuge else {
            await pmdUnlock(t, srcPMD, src, haddr)
            await pmdUnlock(t, dstPMD, dst, haddr)
            freePageTablePage(pgtable)
            return .fallback
        }
        let folio = e.pfn
        if !memory.isZeroPage(folio) {
            memory.folioGet(folio)
            await schedule(t, "copy_huge_pmd", "folio_try_dup_anon_rmap_pmd: folio_maybe_dma_pinned", .folio(folio), .read)
            if !folioMayDupAnonRmapPMD(folio, src: src) {
                memory.folioPut(folio)
                await pmdUnlock(t, srcPMD, src, haddr)
                await pmdUnlock(t, dstPMD, dst, haddr)
                freePageTablePage(pgtable)
                trace(t, "copy_huge_pmd", "THP \(folio) may be pinned: split PMD, copy PTEs")
                await splitHugePMD(t, src, vma, haddr)
                return .fallback
            }
            await schedule(t, "copy_huge_pmd", "clear AE, pmdp_set_wrprotect, set child PMD", .pmd(table: srcPMD, index: VirtualAddress(haddr).pmdIndex), .write)
            folioDupAnonRmapPMD(folio, dst: dst)
            dst.rssAnon += Geometry.ptrsPerTable
        }
        let idx = VirtualAddress(haddr).pmdIndex
        let dep = tables.newPTETable(backing: pgtable)
        tables.setDeposited(dstPMD, idx, dep)
        userData.ptesCopied(from: tables.deposited(srcPMD, idx), 0, to: dep, 0, count: Geometry.ptrsPerTable)
        setPMD(srcPMD, haddr, e.withWrite(false))
        setPMD(dstPMD, haddr, e.withWrite(false).withYoung(false))
        trace(t, "copy_huge_pmd", "share \(memory.isZeroPage(folio) ? "huge zero PMD" : "THP \(folio)") at \(VirtualAddress(haddr)) read-only")
        await pmdUnlock(t, srcPMD, src, haddr)
        await pmdUnlock(t, dstPMD, dst, haddr)
        return .copied
    }

    /// `copy_pte_range`: under the child's and then the parent's PTL; `-EAGAIN` from
    /// `copy_present_ptes` drops both, preallocates a page and restarts at the same address.
    func copyPTERange(_ t: SimThread, dst: MM, src: MM, _ vma: VMA, _ start: UInt64, _ end: UInt64) async -> MMError? {
        guard await pteAlloc(t, dst, start) else { return .enomem("fork: page table") }
        let dTab = pmdEntry(dst, start).tableID
        let sTab = pmdEntry(src, start).tableID
        var prealloc: PFN?
        var addr = start
        while addr < end {
            await ptlLock(t, dTab, dst, addr)
            await ptlLock(t, sTab, src, addr)
            var needPrealloc = false
            while addr < end {
                let i = VirtualAddress(addr).pteIndex
                let sSlot = PTESlot(table: sTab, index: i), dSlot = PTESlot(table: dTab, index: i)
                let p = pte(sSlot)
                if p.isNone { addr += Geometry.pageSize; continue }
                if !p.isPresent {
                    copyNonpresentPTE(dst: dst, src: src, vma, sSlot, dSlot, p)
                    addr += Geometry.pageSize
                    continue
                }
                let maxNr = Int((end - addr) >> Geometry.pageShift)
                let r = await copyPresentPTEs(t, dst: dst, src: src, vma, sSlot, dSlot, p, maxNr: maxNr, prealloc: &prealloc)
                if r < 0 { needPrealloc = true; break }
                if let unused = prealloc {
                    memory.folioPut(unused)
                    prealloc = nil
                }
                addr += UInt64(r) * Geometry.pageSize
            }
            await ptlUnlock(t, sTab, src, addr)
            await ptlUnlock(t, dTab, dst, addr)
            if needPrealloc {
                guard let page = await allocFolio(t, order: 0) else { return .enomem("fork: early COW page") }
                prealloc = page
                trace(t, "copy_pte_range", "-EAGAIN at \(VirtualAddress(addr)): preallocate a page, restart")
            }
        }
        if let unused = prealloc { memory.folioPut(unused) }
        return nil
    }

    /// `copy_present_ptes`: returns the number of PTEs handled, or -1 for -EAGAIN (a page
    /// that may be pinned needs the preallocated copy).
    @_transparent func copyPresentPTEs(_ t: SimThread, dst: MM, src: MM, _ vma: VMA, _ sSlot: PTESlot, _ dSlot: PTESlot,
                         _ first: PTE, maxNr: Int, prealloc: inout PFN?) async -> Int {
        guard let page = vmNormalPage(first) else {
            copyPTEs(vma, sSlot, dSlot, first, 1)
            return 1
        }
        let folio = memory.folio(of: page)
        if prealloc == nil && memory.isLarge(folio) && maxNr != 1 {
            let batch = folioPTEBatch(folio, sSlot, first, maxNr: maxNr, ignoreDirty: vma.flags.contains(.shared),
                                      ignoreSoftDirty: vma.flags.contains(.softDirty))
            let nr = batch.nr
            memory.folioGet(folio, Int32(nr))
            if memory.isAnon(folio) {
                await schedule(t, "copy_present_ptes", "folio_try_dup_anon_rmap_ptes: folio_maybe_dma_pinned", .folio(folio), .read)
                if !folioMayDupAnonRmapPTEs(folio, page, nr, src: src) {
                    memory.folioPut(folio, Int32(nr))
                    trace(t, "copy_present_ptes", "batch of \(nr) at \(folio) may be pinned: -EAGAIN")
                    return -1
                }
                await schedule(t, "copy_present_ptes", "clear AE, wrprotect parent PTEs, set child PTEs", .pte(sSlot), .write)
                folioDupAnonRmapPTEs(folio, page, nr, dst: dst)
                dst.rssAnon += nr
            } else {
                folioDupFileRmapPTEs(folio, page, nr, dst: dst)
                dst.rssFile += nr
            }
            copyPTEs(vma, sSlot, dSlot, batch.anyWritable ? first.withWrite(true) : first, nr)
            return nr
        }
        memory.folioGet(folio)
        if memory.isAnon(folio) {
            await schedule(t, "copy_present_ptes", "folio_try_dup_anon_rmap_pte: folio_maybe_dma_pinned", .folio(folio), .read)
            if !folioMayDupAnonRmapPTEs(folio, page, 1, src: src) {
                memory.folioPut(folio)
                guard let new = prealloc else {
                    trace(t, "copy_present_ptes", "\(page) may be pinned: -EAGAIN")
                    return -1
                }
                copyPresentPage(t, dst: dst, vma, sSlot, dSlot, page, new)
                prealloc = nil
                return 1
            }
            await schedule(t, "copy_present_ptes", "clear AE, wrprotect parent PTE, set child PTE", .pte(sSlot), .write)
            folioDupAnonRmapPTEs(folio, page, 1, dst: dst)
            dst.rssAnon += 1
        } else {
            folioDupFileRmapPTEs(folio, page, 1, dst: dst)
            dst.rssFile += 1
        }
        copyPTEs(vma, sSlot, dSlot, first, 1)
        return 1
    }

    /// `__copy_present_ptes`: write-protect a writable COW batch in the parent; the child's
    /// PTEs are read-only (COW), clean (shared VMA) and old.
    func copyPTEs(_ vma: VMA, _ sSlot: PTESlot, _ dSlot: PTESlot, _ first: PTE, _ nr: Int) {
        var p = first
        if vma.isCOWMapping && p.isWritable {
            for k in 0..<nr {
                let s = PTESlot(table: sSlot.table, index: sSlot.index + k)
                setPTE(s, pte(s).withWrite(false))
            }
            p = p.withWrite(false)
        }
        if vma.flags.contains(.shared) { p = p.withDirty(false) }
        p = p.withYoung(false)
        if !vma.flags.contains(.uffdWp) { p = p.withUffdWp(false) }
        for k in 0..<nr { setPTE(PTESlot(table: dSlot.table, index: dSlot.index + k), p.isSpecial ? p : p.withPFN(first.pfn + k)) }
        // The checker's record of the last value written goes with the PTE, at the step that
        // copies it: a store by another thread through the parent's PTE before then reaches
        // the child too.
        userData.ptesCopied(from: sSlot.table, sSlot.index, to: dSlot.table, dSlot.index, count: nr)
    }

    /// `copy_present_page`: the early COW of a maybe-pinned exclusive page; the child gets the
    /// copy (AE, writable if VM_WRITE), the parent keeps its page, PTE, AE and pin.
    func copyPresentPage(_ t: SimThread, dst: MM, _ vma: VMA, _ sSlot: PTESlot, _ dSlot: PTESlot, _ page: PFN, _ new: PFN) {
        memory.setData(new, memory.data(page))
        userData.ptesCopied(from: sSlot.table, sSlot.index, to: dSlot.table, dSlot.index, count: 1)
        folioAddNewAnonRmap(new, dst, pmd: false)
        dst.rssAnon += 1
        let w = vma.flags.contains(.write)
        var e = PTE.page(new, write: w, dirty: true, young: true)
        if vma.flags.contains(.uffdWp) && pte(sSlot).isUffdWp { e = e.withUffdWp(true) }
        setPTE(dSlot, e)
        count(dst, Counter.forkCopiedBytes, Int(Geometry.pageSize))
        trace(t, "copy_present_page", "\(page) may be pinned: child gets copy \(new), parent keeps it writable")
    }

    /// `copy_nonpresent_pte` for swap entries: the swap count grows, the parent's entry
    /// loses its exclusive bit, the child gets the same (non-exclusive) entry.
    func copyNonpresentPTE(dst: MM, src: MM, _ vma: VMA, _ sSlot: PTESlot, _ dSlot: PTESlot, _ p: PTE) {
        guard p.isSwap else { return }
        swap.count[p.swapSlot] += 1
        var e = p
        if e.isSwapExclusive {
            e = e.withSwapExclusive(false)
            setPTE(sSlot, e)
        }
        if !vma.flags.contains(.uffdWp) { e = e.withUffdWp(false) }
        setPTE(dSlot, e)
        userData.ptesCopied(from: sSlot.table, sSlot.index, to: dSlot.table, dSlot.index, count: 1)
        dst.rssSwap += 1
    }
}
