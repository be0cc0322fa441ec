/// The fault entry (mm/memory.c): `handle_mm_fault`, `sanitize_fault_flags`,
/// `__handle_mm_fault`, `handle_pte_fault`, `do_pte_missing`, `do_anonymous_page` and
/// `alloc_anon_folio`.
///
/// Faults run under `mmap_lock` held for read by the caller, or (6.4+, `FAULT_FLAG_VMA_LOCK`)
/// under the faulting VMA's own read lock (Access.swift). Left out: userfaultfd delivery, NUMA
/// hinting, memcg charging, `check_stable_address_space` (no OOM reaper) and hugetlb.
extension World {
    /// `handle_mm_fault`: dispatches the fault and counts it like `mm_account_fault` counts
    /// `min_flt`: not when it returns VM_FAULT_RETRY, nor an error (those count as `error`).
    ///
    /// The fault's one async frame: `__handle_mm_fault`, `handle_pte_fault` and
    /// `do_anonymous_page` are inlined into it, and it is out of line in its callers. A
    /// caller that inlined it (the access loop did, with `handle_pte_fault` as the frame)
    /// kept the `VMFault` and the fault's call sites in its own async frame, twice over for
    /// the two lock paths, and every resume of that frame recomputed the address of each
    /// slot (callgrind per instruction). Now the access loop holds none of them.
    @inline(never) func handleMMFault(_ t: SimThread, vma: VMA, address: UInt64, flags: FaultFlags) async -> VMFaultResult {
        let mm = t.mm
        var vmf = VMFault(vma: vma, address: address & ~(Geometry.pageSize - 1), flags: flags)
        var ret: VMFaultResult
        if let bad = sanitizeFaultFlags(t, &vmf) {
            ret = bad
        } else {
            ret = await __handleMMFault(t, &vmf)
        }
        if ret.isError {
            countFault(mm, .error)
        } else if !ret.contains(.retry) {
            count(mm, Counter.faultsTotal)
            countFault(mm, vmf.kind)
        }
        return ret
    }

    /// `sanitize_fault_flags`.
    @inline(__always) func sanitizeFaultFlags(_ t: SimThread, _ vmf: inout VMFault) -> VMFaultResult? {
        if vmf.flags.contains(.unshare) {
            if vmf.flags.contains(.write) {
                report(.faultFlagsExclusive, t.mm, addr: vmf.address, "FAULT_FLAG_UNSHARE together with FAULT_FLAG_WRITE")
                return .sigsegv
            }
            if !vmf.vma.isCOWMapping { vmf.flags.remove(.unshare) }
        } else if vmf.flags.contains(.write) {
            if !vmf.vma.flags.contains(.mayWrite) { return .sigsegv }
            if !vmf.vma.flags.contains(.write) && !vmf.vma.isCOWMapping { return .sigsegv }
        }
        return nil
    }

    /// `__handle_mm_fault`: the PMD level (PMD THP, huge PMD write/unshare), then the PTE level.
    @_transparent func __handleMMFault(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        guard let pmdT = pmdTableAlloc(t.mm, vmf.address) else { return .oom }
        vmf.pmdTable = pmdT
        let pmd = vmfPMD(vmf)
        if pmd.isNone && thpVMAAllowableOrders(t.mm, vmf.vma, mask: 1 << UInt32(Geometry.pmdOrder)) != 0 {
            let ret = await doHugePMDAnonymousPage(t, &vmf)
            if !ret.contains(.fallback) { return ret }
        } else if pmd.isHuge {
            vmf.origPMD = pmd
            if (vmf.isWrite || vmf.isUnshare) && !pmd.isWritable {
                let ret = await doHugePMDWPPage(t, &vmf)
                if !ret.contains(.fallback) { return ret }
            } else {
                await hugePMDSetAccessed(t, &vmf)
                return .zero
            }
        }
        return await handlePTEFault(t, &vmf)
    }

    /// `handle_pte_fault`.
    @_transparent func handlePTEFault(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        let pmd = vmfPMD(vmf)
        if pmd.isNone {
            vmf.slot = nil
            vmf.flags.remove(.origPTEValid)
        } else {
            guard pmd.isTable else { return .zero }
            let slot = PTESlot(table: pmd.tableID, index: VirtualAddress(vmf.address).pteIndex)
            await schedule(t, "handle_pte_fault", "read orig_pte", .pte(slot), .read)
            vmf.origPTE = pte(slot)
            vmf.flags.insert(.origPTEValid)
            vmf.slot = vmf.origPTE.isNone ? nil : slot
        }
        if vmf.slot == nil {
            // do_pte_missing
            if vmf.vma.isAnonymous { return await doAnonymousPage(t, &vmf) }
            return await doFault(t, &vmf)
        }
        if !vmf.origPTE.isPresent { return await doSwapPage(t, &vmf) }
        let slot = vmf.slot!
        await ptlLock(t, slot.table, t.mm, vmf.address)
        var entry = vmf.origPTE
        if !pteSame(slot, entry) {
            trace(t, "handle_pte_fault", "PTE changed at \(VirtualAddress(vmf.address)): refault")
            vmf.kind = .retry
            await ptlUnlock(t, slot.table, t.mm, vmf.address)
            return .zero
        }
        if vmf.isWrite || vmf.isUnshare {
            if !entry.isWritable { return await doWPPage(t, &vmf) }
            if vmf.isWrite { entry = entry.withDirty(true) }
        }
        entry = entry.withYoung(true)
        setPTE(slot, entry)
        vmf.kind = .spurious
        await ptlUnlock(t, slot.table, t.mm, vmf.address)
        return .zero
    }

    /// `vmf_pte_changed`: with a valid `orig_pte` it must still be the same, else still none.
    @inline(__always) func vmfPTEChanged(_ vmf: VMFault, _ slot: PTESlot) -> Bool {
        if vmf.flags.contains(.origPTEValid) { return !pteSame(slot, vmf.origPTE) }
        return !pteNone(slot)
    }

    /// `vmf_anon_prepare` (`__vmf_anon_prepare` and its wrapper in mm/internal.h): nil when
    /// the fault can go on, the VMA now with an anon_vma; VM_FAULT_RETRY when it must start
    /// again under mmap_lock, the VMA lock dropped. Under a VMA lock that is always so up to
    /// 6.9; from 6.10 only when `mmap_read_trylock` fails (a writer holds mmap_lock). Up to
    /// 6.6 no fault that needs an anon_vma runs under a VMA lock (`lock_vma_under_rcu`
    /// declines it). Left out: the anon_vma allocation failing (VM_FAULT_OOM).
    @inline(__always) func vmfAnonPrepare(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult? {
        guard vmf.vma.anonVMA == 0 else { return nil }
        return await vmfAnonPrepareSlowPath(t, &vmf)
    }

    /// `vmf_anon_prepare` for a VMA whose copy in `vmf` has no anon_vma.
    @inline(never) func vmfAnonPrepareSlowPath(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult? {
        _ = readAnonVMA(t, &vmf)
        if vmf.vma.anonVMA != 0 { return nil }
        guard vmf.flags.contains(.vmaLock) else {
            anonVMAPrepare(t, &vmf)
            return nil
        }
        guard semantics.vmaLockFaults == .all, await mmapReadTrylock(t, t.mm) else {
            trace(t, "vmf_anon_prepare", "no anon_vma under the VMA lock: VM_FAULT_RETRY, retry under mmap_lock")
            await vmaEndRead(t, t.mm, vmf.vma)
            return .retry
        }
        anonVMAPrepare(t, &vmf)
        await mmapReadUnlock(t, t.mm)
        return nil
    }

    /// `__anon_vma_prepare`: gives the VMA an anon_vma on first use, with mmap_lock held (for
    /// read). The VMA is found again by its id: other VMAs of the mm may have moved in the
    /// tree meanwhile. Another fault may have prepared one since (the kernel looks again under
    /// `page_table_lock`); then that one is used. A neighbour's anon_vma is reused when it can
    /// be (`find_mergeable_anon_vma`), so that VMAs that differ only in their access bits can
    /// merge later.
    @inline(__always) func anonVMAPrepare(_ t: SimThread, _ vmf: inout VMFault) {
        guard vmf.vma.anonVMA == 0 else { return }
        let i = readAnonVMA(t, &vmf)
        guard vmf.vma.anonVMA == 0 else { return }
        vmf.vma.anonVMA = i.flatMap { mergeableAnonVMA(t.mm, $0) } ?? newAnonVMA()
        if let i { t.mm.vmas[i].anonVMA = vmf.vma.anonVMA }
    }

    /// `vma->anon_vma` read from the VMA itself into the fault's copy, which another fault
    /// may have outdated by preparing one since. Returns the VMA's index (nil if it is gone).
    @inline(__always) func readAnonVMA(_ t: SimThread, _ vmf: inout VMFault) -> Int? {
        guard let i = t.mm.vmaIndex(id: vmf.vma.id, containing: vmf.address) else { return nil }
        vmf.vma.anonVMA = t.mm.vma(at: i).anonVMA
        return i
    }

    /// `find_mergeable_anon_vma` (mm/vma.c): the anon_vma of the next VMA, else of the
    /// previous one, if that VMA is `anon_vma_compatible` with the one at `i` (adjacent, the
    /// same backing, contiguous pgoff, flags equal but for VM_READ/WRITE/EXEC and soft-dirty)
    /// and its anon_vma chain is singular (`reusable_anon_vma`: not inherited through fork).
    func mergeableAnonVMA(_ mm: MM, _ i: Int) -> Int32? {
        let vmas = mm.vmas
        let ignored: VMFlags = [.read, .write, .exec, .softDirty]
        func reusable(_ old: VMA, _ a: VMA, _ b: VMA) -> Int32? {
            guard a.end == b.start, a.backing == b.backing, a.pageIndex(a.end) == b.pgoff,
                  a.flags.subtracting(ignored) == b.flags.subtracting(ignored),
                  old.anonVMA != 0, !old.anonVMAInherited else { return nil }
            return old.anonVMA
        }
        if i + 1 < vmas.count, let a = reusable(vmas[i + 1], vmas[i], vmas[i + 1]) { return a }
        if i > 0, let a = reusable(vmas[i - 1], vmas[i - 1], vmas[i]) { return a }
        return nil
    }

    /// `do_anonymous_page`: a read maps the shared zero page; a write allocates a folio of the
    /// order `alloc_anon_folio` picks and maps all of it, exclusive and writable (if VM_WRITE).
    @_transparent func doAnonymousPage(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        let vma = vmf.vma
        if vma.flags.contains(.shared) { return .sigbus }
        guard let table = await vmfPTEAlloc(t, vmf) else { return .oom }

        if !vmf.isWrite {
            let slot = PTESlot(table: table, index: VirtualAddress(vmf.address).pteIndex)
            await ptlLock(t, table, t.mm, vmf.address)
            if vmfPTEChanged(vmf, slot) {
                vmf.kind = .retry
                await ptlUnlock(t, table, t.mm, vmf.address)
                return .zero
            }
            setPTE(slot, .page(memory.zeroPFN, write: false, dirty: false, young: true, special: true))
            vmf.kind = .zeropage
            trace(t, "do_anonymous_page", "map zero page at \(VirtualAddress(vmf.address))")
            await ptlUnlock(t, table, t.mm, vmf.address)
            return .zero
        }

        if let r = await vmfAnonPrepare(t, &vmf) { return r }
        // alloc_anon_folio, with its order-0 fast path here: the compiler does not inline an
        // async callee reliably, and an async call costs a task allocation (callgrind: ~200 of
        // a ~1,500-instruction THP-off fault).
        let orders = anonFolioSuitableOrders(t.mm, vma, vmf.address)
        let allocated = orders == 0 ? memory.allocFolio(order: 0) : nil
        guard let folio = allocated != nil ? allocated : await allocAnonFolio(t, &vmf, orders: orders) else { return .oom }
        let nr = memory.nrPages(folio)
        let addr = VirtualAddress(vmf.address).alignedDown(order: memory.order(of: folio)).raw
        let writable = vma.flags.contains(.write)
        let entry = PTE.page(folio, write: writable, dirty: writable, young: true)
        let first = PTESlot(table: table, index: VirtualAddress(addr).pteIndex)

        await ptlLock(t, table, t.mm, vmf.address)
        let changed = nr == 1 ? vmfPTEChanged(vmf, first) : !semantics.skipPTERangeNoneRecheck && !pteRangeNone(first, nr)
        if changed {
            trace(t, "do_anonymous_page", "PTE range of \(VirtualAddress(addr)) no longer empty: drop \(FolioOrder(memory.order(of: folio))) folio, refault")
            vmf.kind = .retry
            await ptlUnlock(t, table, t.mm, vmf.address)
            memory.folioPut(folio)
            return .zero
        }
        await schedule(t, "do_anonymous_page", "folio_ref_add, rmap, set PTEs", .pte(first), .write)
        memory.folioGet(folio, Int32(nr - 1))
        t.mm.rssAnon += nr
        let order = memory.order(of: folio)
        if order > 0 { countMTHP(t.mm, order: order, .anonFaultAlloc) }
        count(t.mm, Counter.pagesAllocated, nr)
        folioAddNewAnonRmap(folio, t.mm, pmd: false)
        for i in 0..<nr { setPTE(PTESlot(table: table, index: first.index + i), entry.withPFN(folio + i)) }
        vmf.kind = .anonymous
        trace(t, "do_anonymous_page", "map \(FolioOrder(order)) folio \(folio) at \(VirtualAddress(addr)) (\(nr) PTEs, AE)")
        await ptlUnlock(t, table, t.mm, vmf.address)
        return .zero
    }

    /// `pte_range_none`.
    func pteRangeNone(_ first: PTESlot, _ nr: Int) -> Bool {
        for i in first.index..<first.index + nr where !pteNone(PTESlot(table: first.table, index: i)) { return false }
        return true
    }

    /// `thp_vma_allowable_orders(vma, vm_flags, TVA_IN_PF | TVA_ENFORCE_SYSFS, mask)` for an
    /// anonymous VMA: the sysfs mask, then VM_NOHUGEPAGE / MMF_DISABLE_THP. Under the
    /// pre-6.8 rule (S8 = order0-pmd) only the PMD order exists, governed by the top level.
    @inline(__always) func thpVMAAllowableOrders(_ mm: MM, _ vma: VMA, mask: UInt32) -> UInt32 {
        guard vma.isAnonymous, !vma.flags.contains(.noHugepage), !mm.disableTHP else { return 0 }
        let hugepage = vma.flags.contains(.hugepage)
        var allowed: UInt32
        switch semantics.faultOrder {
        case .mthp:
            allowed = hugepage ? thpMaskHugepage : thpMaskPlain
        case .order0PMD:
            let on = thp.enabled == .always || (thp.enabled == .madvise && hugepage)
            allowed = on ? 1 << UInt32(Geometry.pmdOrder) : 0
        }
        return allowed & mask
    }

    /// `thp_vma_suitable_order`: the naturally aligned block around `addr` lies in the VMA.
    @inline(__always) func thpVMASuitableOrder(_ vma: VMA, _ addr: UInt64, _ order: Int) -> Bool {
        let size = Geometry.pageSize << UInt64(order)
        let haddr = addr & ~(size - 1)
        return haddr >= vma.start && haddr + size <= vma.end
    }

    /// The orders `alloc_anon_folio` may try: `thp_vma_allowable_orders` below the PMD order,
    /// then from the highest `thp_vma_suitable_order` down. `@_transparent` because the
    /// compiler does not inline `@inline(__always)` into the async `do_anonymous_page` here.
    @_transparent func anonFolioSuitableOrders(_ mm: MM, _ vma: VMA, _ address: UInt64) -> UInt32 {
        guard !vma.flags.contains(.uffdMissing) && !vma.flags.contains(.uffdWp) else { return 0 }
        let orders = thpVMAAllowableOrders(mm, vma, mask: (1 << UInt32(Geometry.pmdOrder)) - 1)
        guard orders != 0 else { return 0 }
        var o = Geometry.pmdOrder - 1
        while o >= 2 {
            if orders & (1 << UInt32(o)) != 0 && thpVMASuitableOrder(vma, address, o) {
                return orders & ((1 << UInt32(o + 1)) - 1)
            }
            o -= 1
        }
        return 0
    }

    /// `alloc_anon_folio` from the suitable `orders` on (`do_anonymous_page` tries order 0
    /// itself first when there are none): the lockless `pte_range_none` scan, the large
    /// allocations with their `anon_fault_fallback`s, then order 0 with direct reclaim. Nil
    /// on OOM.
    func allocAnonFolio(_ t: SimThread, _ vmf: inout VMFault, orders suitable: UInt32) async -> PFN? {
        var orders = suitable
        if orders != 0 {
            let table = vmfPMD(vmf).tableID
            await schedule(t, "alloc_anon_folio", "lockless pte_range_none", .pte(PTESlot(table: table, index: VirtualAddress(vmf.address).pteIndex)), .read)
            var order = 31 - orders.leadingZeroBitCount
            while orders != 0 {
                let addr = VirtualAddress(vmf.address).alignedDown(order: order)
                if pteRangeNone(PTESlot(table: table, index: addr.pteIndex), 1 << order) { break }
                orders &= ~(1 << UInt32(order))
                order = orders == 0 ? 0 : 31 - orders.leadingZeroBitCount
            }
            while orders != 0 {
                if let folio = memory.allocFolio(order: order) {
                    return folio
                }
                countMTHP(t.mm, order: order, .anonFaultFallback)
                trace(t, "alloc_anon_folio", "no free \(FolioOrder(order)) block: fall back")
                orders &= ~(1 << UInt32(order))
                order = orders == 0 ? 0 : 31 - orders.leadingZeroBitCount
            }
        }
        return await allocFolio(t, order: 0)
    }

    /// `vm_normal_page`: the page a present PTE maps, nil for special PTEs (the zero page).
    @inline(__always) func vmNormalPage(_ pte: PTE) -> PFN? {
        guard pte.isPresent, !pte.isSpecial else { return nil }
        return pte.pfn
    }
}
