/// Write and unshare faults on a present read-only PTE (mm/memory.c): `do_wp_page`,
/// `wp_can_reuse_anon_folio`, `__wp_can_reuse_large_anon_folio` (6.15), `wp_page_reuse`,
/// `wp_page_shared`. The copy itself is in COWCopy.swift. Left out: userfaultfd-wp, KSM
/// (no KSM pages are created), `page_mkwrite` failures.
extension World {
    /// `do_wp_page`: entered with the PTL held and `orig_pte` revalidated; returns with it
    /// released. `@_transparent` (as is `wp_can_reuse_anon_folio`): a COW fault then makes
    /// two task allocations fewer (callgrind, fork of 256 Ki pages + child COW: 1,933 M →
    /// 1,885 M instructions); `wp_page_copy` inlined too made both workloads dearer.
    @_transparent func doWPPage(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        let slot = vmf.slot!
        let vma = vmf.vma
        vmf.page = vmNormalPage(vmf.origPTE)
        let page = vmf.page
        let folio = page.map { memory.folio(of: $0) }

        if vma.isShared {
            return await wpPageShared(t, &vmf)
        }
        if let page, let folio, memory.isAnon(folio) {
            var reuse = memory.anonExclusive(page) && semantics.anonReuse != .mapcount && semantics.anonReuse != .refcount
            if !reuse { reuse = await wpCanReuseAnonFolio(t, folio, page, vmf) }
            if reuse {
                if !memory.anonExclusive(page) {
                    await schedule(t, "do_wp_page", "SetPageAnonExclusive", .folio(folio), .write)
                    memory.set(page, PageFlag.anonExclusive)
                }
                if vmf.isUnshare {
                    vmf.kind = .unshare
                    trace(t, "do_wp_page", "unshare \(VirtualAddress(vmf.address)): \(page) is exclusive, set AE, PTE stays read-only")
                    await ptlUnlock(t, slot.table, t.mm, vmf.address)
                    return .zero
                }
                await wpPageReuse(t, &vmf, folio)
                return .zero
            }
        }
        let tempRef = semantics.wpCopyWithoutFolioGet ? nil : folio
        if let tempRef { memory.folioGet(tempRef) }
        let plan = cowPlan(t, vmf, page: page)
        trace(t, "do_wp_page", "\(vmf.isUnshare ? "unshare" : "write") \(VirtualAddress(vmf.address)): \(describeCOWSource(page)) cannot be reused: copy\(plan.nr > 1 ? " \(plan.nr) pages" : ""), drop PTL")
        await ptlUnlock(t, slot.table, t.mm, vmf.address)
        return await wpPageCopy(t, &vmf, plan, tempRef: tempRef)
    }

    func describeCOWSource(_ page: PFN?) -> String {
        guard let page else { return "zero page" }
        let folio = memory.folio(of: page)
        if !memory.isAnon(folio) { return "pagecache page \(page)" }
        return "\(page) (ref \(memory.refcount(folio)), map \(memory.pageMapcount(page)))"
    }

    /// `wp_can_reuse_anon_folio` with the S1 switch: the mapcount rule (≤5.8), the refcount
    /// rule (5.9–6.14, small folios only from 5.19), and 6.15 large-folio reuse.
    /// Inlined, with the unlocked tests of `wpCanReuseByRefcount` (one call site, so that it
    /// stays small enough): a COW fault on a shared folio decides without two async calls.
    /// `@_transparent`: `@inline(__always)` left it a frame of its own.
    @_transparent func wpCanReuseAnonFolio(_ t: SimThread, _ folio: PFN, _ page: PFN, _ vmf: VMFault) async -> Bool {
        switch semantics.anonReuse {
        case .mapcount:
            return reuseSwapPage(page)
        case .ae where memory.isLarge(folio):
            return false
        case .aeMMID where memory.isLarge(folio):
            return await wpCanReuseLargeAnonFolio(t, folio, t.mm)
        case .refcount, .ae, .aeMMID:
            return await wpCanReuseByRefcount(t, folio)
        }
    }

    /// The small-folio body of `wp_can_reuse_anon_folio`: the only reference must be our
    /// mapping's, after freeing a swapcache copy under the folio trylock.
    @_transparent func wpCanReuseByRefcount(_ t: SimThread, _ folio: PFN) async -> Bool {
        if memory.test(folio, PageFlag.ksm) || memory.refcountIs(folio, >, 3) { return false }
        let swapRef: Int32 = memory.test(folio, PageFlag.swapCache) ? 1 : 0
        if memory.refcountIs(folio, >, 1 + swapRef) { return false }
        return await wpCanReuseByRefcountLocked(t, folio)
    }

    /// `wp_can_reuse_anon_folio`'s part under the folio trylock.
    func wpCanReuseByRefcountLocked(_ t: SimThread, _ folio: PFN) async -> Bool {
        guard await folioTrylock(t, folio) else { return false }
        if memory.test(folio, PageFlag.swapCache) { folioFreeSwap(folio) }
        let ok = !memory.test(folio, PageFlag.ksm) && memory.refcountIs(folio, ==, 1)
        await folioUnlock(t, folio)
        return ok
    }

    /// `__wp_can_reuse_large_anon_folio` (6.15): reusable when no other mm maps the folio (the
    /// MM-ID shared bit is clear) and every reference comes from a page-table mapping.
    func wpCanReuseLargeAnonFolio(_ t: SimThread, _ folio: PFN, _ mm: MM) async -> Bool {
        if memory.meta(folio).largeMapcount <= 1 { return false }
        if memory.meta(folio).maybeMappedShared { return false }
        if memory.test(folio, PageFlag.swapCache) {
            guard await folioTrylock(t, folio) else { return false }
            folioFreeSwap(folio)
            await folioUnlock(t, folio)
        }
        if memory.refcountIs(folio, !=, memory.meta(folio).largeMapcount) { return false }
        await schedule(t, "__wp_can_reuse_large_anon_folio", "folio_lock_large_mapcount", .folio(folio), .read)
        let m = memory.meta(folio)
        if memory.refcountIs(folio, <, m.largeMapcount) {
            report(.refcountCoversMappings, mm, folio: folio, "large mapcount \(m.largeMapcount) > refcount \(memory.refcount(folio)) in the large-reuse path")
        }
        return !m.maybeMappedShared && memory.refcountIs(folio, ==, m.largeMapcount)
    }

    /// `wp_page_reuse`: the PTE becomes young, dirty and (if VM_WRITE) writable; no counts
    /// change. With the RFC's range reuse, every PTE of the exclusive large folio in this
    /// table is made writable at once.
    func wpPageReuse(_ t: SimThread, _ vmf: inout VMFault, _ folio: PFN) async {
        let slot = vmf.slot!
        if vmf.isUnshare { report(.unshareNeverWritable, t.mm, addr: vmf.address, folio: folio, "wp_page_reuse called for an unshare fault") }
        if let page = vmf.page, memory.isAnon(folio), !memory.anonExclusive(page) {
            report(.writablePTEImpliesExclusive, t.mm, addr: vmf.address, folio: folio, "wp_page_reuse on a page without AE")
        }
        var entry = vmf.origPTE.withYoung(true).withDirty(true)
        if vmf.vma.flags.contains(.write) { entry = entry.withWrite(true) }
        setPTE(slot, entry)
        vmf.kind = .wpReuse
        trace(t, "wp_page_reuse", "reuse \(vmf.page.map { "\($0)" } ?? "page") at \(VirtualAddress(vmf.address))\(memory.isLarge(folio) ? " of large folio \(folio)" : "")")
        if semantics.rangeReuse && memory.isLarge(folio) && vmf.vma.flags.contains(.write) {
            makeFolioRangeWritable(t, vmf, folio)
        }
        await ptlUnlock(t, slot.table, t.mm, vmf.address)
    }

    /// RFC v2 "reuse large folios": all PTEs of `folio` in the faulting PTE table become
    /// writable and their pages AE.
    private func makeFolioRangeWritable(_ t: SimThread, _ vmf: VMFault, _ folio: PFN) {
        let slot = vmf.slot!
        let nr = memory.nrPages(folio)
        let pageIdx = vmf.page! - folio
        let lo = max(0, slot.index - pageIdx), hi = min(Geometry.ptrsPerTable, slot.index - pageIdx + nr)
        var made = 0
        for i in lo..<hi {
            let s = PTESlot(table: slot.table, index: i)
            let p = pte(s)
            guard p.isPresent, !p.isSpecial, memory.folio(of: p.pfn) == folio, !p.isWritable else { continue }
            memory.set(p.pfn, PageFlag.anonExclusive)
            setPTE(s, p.withWrite(true).withDirty(true).withYoung(true))
            made += 1
        }
        if made > 0 { trace(t, "wp_page_reuse", "range reuse: \(made) more PTEs of \(folio) made writable") }
    }

    /// `wp_page_shared`: a write to a read-only PTE of a shared file mapping
    /// (`do_page_mkwrite` for files with dirty tracking, then reuse and dirty the folio).
    func wpPageShared(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        let slot = vmf.slot!
        if let page = vmf.page { memory.set(memory.folio(of: page), PageFlag.dirty) }
        var entry = vmf.origPTE.withYoung(true).withDirty(true)
        if vmf.vma.flags.contains(.write) { entry = entry.withWrite(true) }
        setPTE(slot, entry)
        vmf.kind = .wpReuse
        trace(t, "wp_page_shared", "make shared file PTE at \(VirtualAddress(vmf.address)) writable")
        await ptlUnlock(t, slot.table, t.mm, vmf.address)
        return .zero
    }
}
