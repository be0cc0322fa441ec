/// What a COW fault will copy: `nr` consecutive PTEs starting at `base`, as they were seen
/// under the PTL before it was dropped. Mainline always copies one page.
struct COWPlan {
    var base: UInt64
    var order: Int
    /// The PTEs of the range at decision time; `wp_page_copy` revalidates against them.
    var snapshot: SmallList<PTE>
    var nr: Int { 1 << order }
}

/// `wp_page_copy` (mm/memory.c) and the COW-copy policy switch (S9): mainline copies the
/// faulting page; the 2023 RFC v2 ("mm: Copy large folios for anonymous memory") copies an
/// aligned range of the source folio, and a whole-folio variant copies all of it. Left out:
/// mmu notifiers (no secondary MMUs), KSM, hardware poison, memcg.
extension World {
    /// Chooses the range to copy, with the PTL held (the range must be revalidated later).
    func cowPlan(_ t: SimThread, _ vmf: VMFault, page: PFN?) -> COWPlan {
        let single = COWPlan(base: vmf.address, order: 0, snapshot: SmallList(vmf.origPTE))
        guard semantics.cowCopy != .onePage else { return single }
        let slot = vmf.slot!
        var maxOrder: Int
        if let page {
            let folio = memory.folio(of: page)
            guard memory.isAnon(folio) else { return single }
            maxOrder = memory.order(of: folio)
        } else {
            let allowed = thpVMAAllowableOrders(t.mm, vmf.vma, mask: (1 << UInt32(Geometry.pmdOrder)) - 1)
            maxOrder = allowed == 0 ? 0 : 31 - allowed.leadingZeroBitCount
        }
        let minOrder = semantics.cowCopy == .wholeFolio && page != nil ? maxOrder : 1
        var order = maxOrder
        while order >= minOrder && order > 0 {
            if let plan = cowRange(t, vmf, slot.table, page: page, order: order) { return plan }
            order -= 1
        }
        return single
    }

    /// The aligned block of `order` around the fault if every PTE in it maps the corresponding
    /// page of the same source folio (or the zero page, for a zero-page source) and the block
    /// lies in the VMA.
    private func cowRange(_ t: SimThread, _ vmf: VMFault, _ table: Int32, page: PFN?, order: Int) -> COWPlan? {
        guard thpVMASuitableOrder(vmf.vma, vmf.address, order) else { return nil }
        let base = VirtualAddress(vmf.address).alignedDown(order: order)
        let nr = 1 << order
        let first = base.pteIndex
        let idx = Int((vmf.address - base.raw) >> Geometry.pageShift)
        var snapshot = SmallList<PTE>()
        if let page {
            let folio = memory.folio(of: page)
            let start = page - folio - idx
            guard start >= 0, start + nr <= memory.nrPages(folio) else { return nil }
            for i in 0..<nr {
                let p = pte(PTESlot(table: table, index: first + i))
                guard p.isPresent, !p.isSpecial, p.pfn == folio + (start + i) else { return nil }
                snapshot.append(p)
            }
        } else {
            for i in 0..<nr {
                let p = pte(PTESlot(table: table, index: first + i))
                guard p.isPresent, p.isSpecial, p.pfn == memory.zeroPFN else { return nil }
                snapshot.append(p)
            }
        }
        return COWPlan(base: base.raw, order: order, snapshot: snapshot)
    }

    /// `wp_page_copy`: allocate and fill the copy without the PTL, retake it, revalidate with
    /// `pte_same` (every PTE of the range), then switch the PTEs to the new exclusive folio and
    /// only afterwards drop the old mappings, and put `tempRef` (`old_folio`), the reference
    /// `do_wp_page` took for the copy: it keeps the source folio alive while the PTL is
    /// dropped (another thread may unmap it meanwhile). Returns 0 whether or not the copy was
    /// installed.
    func wpPageCopy(_ t: SimThread, _ vmf: inout VMFault, _ planIn: COWPlan, tempRef tempRefFolio: PFN?) async -> VMFaultResult {
        let mm = t.mm
        if let r = await vmfAnonPrepare(t, &vmf) {
            if let f = tempRefFolio { memory.folioPut(f) }
            return r
        }
        var plan = planIn
        // The first attempt inline: an async call costs a task allocation (see do_anonymous_page).
        let allocated = memory.allocFolio(order: plan.order)
        guard let new = allocated != nil ? allocated : await folioPrealloc(t, mm, &plan, address: vmf.address) else {
            if let f = tempRefFolio { memory.folioPut(f) }
            return .oom
        }
        let source: PointObject = vmNormalPage(plan.snapshot[0]).map { .folio(memory.folio(of: $0)) } ?? .folio(memory.zeroPFN)
        await schedule(t, "wp_page_copy", "__wp_page_copy_user: read the source", source, .read)
        let copied = wpPageCopyUser(new, plan)
        trace(t, "wp_page_copy", "copied \(plan.nr == 1 ? "page" : "\(plan.nr) pages") into new \(FolioOrder(plan.order)) folio \(new); retake PTL")

        let slot = vmf.slot!
        await ptlLock(t, slot.table, mm, vmf.address)
        if !semantics.skipPTESameAfterCopy && !cowRangeSame(slot.table, plan) {
            trace(t, "wp_page_copy", "pte_same failed at \(VirtualAddress(vmf.address)): drop copy, refault")
            vmf.kind = .retry
            await ptlUnlock(t, slot.table, mm, vmf.address)
            memory.folioPut(new)
            if let f = tempRefFolio { memory.folioPut(f) }
            return .zero
        }

        await schedule(t, "wp_page_copy", "switch PTEs to the copy", .pte(slot), .write)
        let writable = vmf.isWrite && vmf.vma.flags.contains(.write)
        let oldFolios = wpPageCopySwitchPTEs(mm, slot, new, plan, writable: writable, unshare: vmf.isUnshare)
        vmf.kind = vmf.isUnshare ? .unshare : .wpCopy
        count(mm, Counter.cowCopiedBytes, Int(copied))
        count(mm, Counter.pagesAllocated, plan.nr)
        if plan.order > 0 { countMTHP(mm, order: plan.order, .anonFaultAlloc) }
        trace(t, "wp_page_copy", "map new \(new) at \(VirtualAddress(plan.base))\(plan.nr > 1 ? " (+\(plan.nr - 1) PTEs)" : "") \(vmf.isUnshare ? "read-only" : "writable"), AE; drop old mapping")
        await ptlUnlock(t, slot.table, mm, vmf.address)

        for (of, _, run) in oldFolios {
            await schedule(t, "wp_page_copy", "folio_put old mapping", .folio(of), .write)
            folioPut(t, "wp_page_copy", of, Int32(run))
        }
        if let f = tempRefFolio {
            await schedule(t, "wp_page_copy", "folio_put the temporary reference", .folio(f), .write)
            freeSwapCache(f)
            folioPut(t, "wp_page_copy", f)
        }
        return .zero
    }

    /// `folio_prealloc` for the copy: a folio of the plan's order; under a range-copy policy a
    /// failed large allocation falls back to the next smaller aligned range around the fault
    /// (`anon_fault_fallback`), down to order 0. Nil on OOM.
    func folioPrealloc(_ t: SimThread, _ mm: MM, _ plan: inout COWPlan, address: UInt64) async -> PFN? {
        while true {
            if let f = await allocFolio(t, order: plan.order) { return f }
            if plan.order == 0 { return nil }
            countMTHP(mm, order: plan.order, .anonFaultFallback)
            let order = plan.order - 1
            let base = VirtualAddress(address).alignedDown(order: order).raw
            let off = Int((base - plan.base) >> Geometry.pageShift)
            plan = COWPlan(base: base, order: order, snapshot: SmallList(plan.snapshot[off..<off + (1 << order)]))
        }
    }

    /// `__wp_page_copy_user` over the plan's range: each source page's data, zero for the
    /// zero page. Returns the bytes copied (zero-page sources are not counted).
    @inline(__always) func wpPageCopyUser(_ new: PFN, _ plan: COWPlan) -> UInt64 {
        var copied: UInt64 = 0
        for i in 0..<plan.nr {
            let src = plan.snapshot[i]
            if src.isSpecial && src.pfn == memory.zeroPFN {
                memory.setData(new + i, 0)
            } else {
                memory.setData(new + i, memory.data(src.pfn))
                copied += Geometry.pageSize
            }
        }
        return copied
    }

    /// `pte_same` for every PTE of the plan's range in `table`, with the PTL held.
    @inline(__always) func cowRangeSame(_ table: Int32, _ plan: COWPlan) -> Bool {
        let first = VirtualAddress(plan.base).pteIndex
        for i in 0..<plan.nr where !pteSame(PTESlot(table: table, index: first + i), plan.snapshot[i]) { return false }
        return true
    }

    /// The PTL-held part of `wp_page_copy` after `pte_same`: `ptep_clear_flush` of the range,
    /// `folio_add_new_anon_rmap` of the copy (exclusive), `set_pte_at_notify` of the new PTEs
    /// (`writable` for a write fault in a VM_WRITE VMA; an `unshare` keeps soft-dirty and
    /// uffd-wp and stays read-only), then `folio_remove_rmap_ptes` of the old pages. Returns the
    /// old folios with the runs of pages whose references the caller puts after dropping the
    /// PTL. `@_transparent` because the compiler does not inline `@inline(__always)` into this
    /// async caller; out of line it cost ~70 instructions per COW (callgrind, fork-snapshot).
    @_transparent func wpPageCopySwitchPTEs(_ mm: MM, _ slot: PTESlot, _ new: PFN, _ plan: COWPlan, writable: Bool, unshare: Bool)
        -> SmallList<(folio: PFN, page: PFN, run: Int)> {
        let table = slot.table
        let first = VirtualAddress(plan.base).pteIndex
        var oldFolios = SmallList<(folio: PFN, page: PFN, run: Int)>()
        for i in 0..<plan.nr {
            let old = plan.snapshot[i]
            if let oldPage = vmNormalPage(old) {
                let of = memory.folio(of: oldPage)
                if !memory.isAnon(of) { mm.rssFile -= 1; mm.rssAnon += 1 }
                if let last = oldFolios.last, last.folio == of, last.page + last.run == oldPage {
                    oldFolios[oldFolios.count - 1].run += 1
                } else {
                    oldFolios.append((of, oldPage, 1))
                }
            } else {
                mm.rssAnon += 1
            }
            setPTE(PTESlot(table: table, index: first + i), .none)
        }
        memory.folioGet(new, Int32(plan.nr - 1))
        folioAddNewAnonRmap(new, mm, pmd: false)
        for i in 0..<plan.nr {
            let old = plan.snapshot[i]
            var e = PTE.page(new + i, write: false, dirty: false, young: true)
            if unshare {
                e = e.withSoftDirty(old.isSoftDirty).withUffdWp(old.isUffdWp)
            } else {
                e = e.withDirty(true).withWrite(writable)
            }
            setPTE(PTESlot(table: table, index: first + i), e)
        }
        if unshare && pte(slot).isWritable {
            report(.unshareNeverWritable, mm, addr: plan.base + UInt64(slot.index - first) * Geometry.pageSize, folio: new, "wp_page_copy installed a writable PTE for an unshare fault")
        }
        for (of, page, run) in oldFolios { folioRemoveRmapPTEs(of, page, run, mm) }
        return oldFolios
    }
}
