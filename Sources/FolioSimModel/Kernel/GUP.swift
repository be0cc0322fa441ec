/// `FOLL_*` flags a GUP caller passes.
package struct GUPFlags: OptionSet, Hashable, Sendable {
    package let rawValue: UInt16
    package init(rawValue: UInt16) { self.rawValue = rawValue }
    package static let write = GUPFlags(rawValue: 1 << 0)
    package static let force = GUPFlags(rawValue: 1 << 1)
    package static let longterm = GUPFlags(rawValue: 1 << 2)
    /// FOLL_PIN (set by `pin_user_pages*`).
    package static let pin = GUPFlags(rawValue: 1 << 3)
    /// FOLL_GET (set by `get_user_pages*`).
    package static let get = GUPFlags(rawValue: 1 << 4)
    /// Internal: FOLL_COW of 4.9–5.19 (a forced COW happened; S7 = foll-cow).
    static let cow = GUPFlags(rawValue: 1 << 5)
}

/// What `follow_page_mask` found.
enum FollowResult {
    case page(PFN)
    /// NULL: not present, or not writable enough; fault it in.
    case noPage
    /// -EMLINK: the page must be unshared first (`gup_must_unshare`).
    case mustUnshare
    case error(MMError)
}

/// The GUP slow path (mm/gup.c): `__get_user_pages_locked` → `__get_user_pages` →
/// `follow_page_mask` (`follow_page_pte`, `follow_huge_pmd`) and `faultin_page`; the rules
/// `check_vma_flags`, `can_follow_write_pte`, `gup_must_unshare`; `try_grab_folio` and
/// `unpin_user_pages`. Left out: FOLL_LONGTERM migration out of ZONE_MOVABLE/CMA (there are
/// no such zones), FOLL_NOFAULT/NOWAIT, dropping mmap_lock during faults (VM_FAULT_RETRY).
extension World {
    /// `is_valid_gup_args`.
    func validateGUPFlags(_ flags: GUPFlags) throws(MMError) {
        if flags.contains(.pin) && flags.contains(.get) { throw .einval("FOLL_GET and FOLL_PIN together") }
        if !flags.contains(.pin) && !flags.contains(.get) { throw .einval("neither FOLL_GET nor FOLL_PIN") }
        if flags.contains(.longterm) && !flags.contains(.pin) { throw .einval("FOLL_LONGTERM without FOLL_PIN") }
    }

    /// `get_user_pages` / `pin_user_pages` on `t`'s own mm: returns one page per 4 KiB page of
    /// `[addr, addr + nr pages)`, each with a reference (FOLL_GET) or a pin (FOLL_PIN).
    package func getUserPages(_ t: SimThread, addr: UInt64, nrPages: Int, flags: GUPFlags) async throws(MMError) -> [PFN] {
        try validateGUPFlags(flags)
        let mm = t.mm
        await mmapReadLock(t, mm)
        if flags.contains(.pin) && !mm.hasPinned {
            mm.hasPinned = true
            trace(t, "__get_user_pages_locked", "set MMF_HAS_PINNED on \(mm.name)")
        }
        var pages: [PFN] = []
        var failure: MMError?
        for k in 0..<nrPages {
            do {
                pages.append(try await gupOne(t, mm, addr + UInt64(k) * Geometry.pageSize, flags))
            } catch {
                failure = error
                break
            }
        }
        await mmapReadUnlock(t, mm)
        if let failure {
            for p in pages { gupPutFolio(memory.folio(of: p), 1, flags) }
            throw failure
        }
        return pages
    }

    /// One page of `__get_user_pages`: follow, fault in (or unshare) and follow again.
    private func gupOne(_ t: SimThread, _ mm: MM, _ addr: UInt64, _ flagsIn: GUPFlags) async throws(MMError) -> PFN {
        var flags = flagsIn
        guard let vi = mm.vmaIndex(containing: addr) else { throw .efault("no VMA at 0x\(String(addr, radix: 16))") }
        try checkVMAFlags(mm.vmas[vi], flags)
        if semantics.roPin == .forceCOW && !flags.contains(.write) && mm.vmas[vi].isCOWMapping
            && mm.vmas[vi].flags.contains(.write) {
            flags.insert(.write)
        }
        // The kernel retries until the fault sticks; run-to-completion stops after 8 faults,
        // which only a FolioSim bug can reach. Under a scheduler other threads may undo a
        // fault any number of times, so the explorer bounds a schedule's length instead.
        var faults = 0
        while hooks != nil || faults < 8 {
            faults += 1
            let unshare: Bool
            switch await followPage(t, mm, mm.vmas[vi], addr, flags) {
            case .page(let p):
                // follow_page_pte took the pin under the PTL: it is kept from here on.
                gupKeep(t, p, flags)
                return p
            case .error(let e): throw e
            case .noPage: unshare = false
            case .mustUnshare: unshare = true
            }
            var ff: FaultFlags = [.remote]
            if flags.contains(.write) { ff.insert(.write) }
            if unshare { ff.insert(.unshare) }
            trace(t, "faultin_page", "\(unshare ? "unshare" : flags.contains(.write) ? "write" : "read") fault at \(VirtualAddress(addr))")
            let ret = await handleMMFault(t, vma: mm.vmas[vi], address: addr, flags: ff)
            if ret.contains(.oom) { throw .enomem("fault for GUP ran out of memory") }
            if ret.isError { throw .efault("fault for GUP failed at 0x\(String(addr, radix: 16))") }
            if flags.contains(.write) && !mm.vmas[vi].flags.contains(.write) { flags.insert(.cow) }
        }
        report(.faultProgress, mm, addr: addr, "GUP made no progress after 8 faults")
        throw .efault("GUP made no progress")
    }

    /// `check_vma_flags`.
    func checkVMAFlags(_ vma: VMA, _ flags: GUPFlags) throws(MMError) {
        if vma.flags.contains(.io) || vma.flags.contains(.pfnMap) { throw .efault("VM_IO or VM_PFNMAP") }
        if flags.contains(.write) {
            if let f = vma.fileIndex, flags.contains(.longterm), vma.flags.contains(.shared), files[f].kind == .regular {
                throw .efault("long-term write pin of a file that needs dirty tracking")
            }
            if !vma.flags.contains(.write) {
                if !flags.contains(.force) { throw .efault("write to a VMA without VM_WRITE needs FOLL_FORCE") }
                if !vma.isCOWMapping { throw .efault("FOLL_FORCE write only into COW mappings") }
            }
        } else if !vma.flags.contains(.read) {
            if !flags.contains(.force) || !vma.flags.contains(.mayRead) { throw .efault("read of a VMA without VM_READ") }
        }
    }

    /// `follow_page_mask` for one address, under the PTL (or PMD lock), which keeps the
    /// mapped folio alive until the reference (FOLL_GET) or pin (FOLL_PIN) it takes.
    func followPage(_ t: SimThread, _ mm: MM, _ vma: VMA, _ addr: UInt64, _ flags: GUPFlags) async -> FollowResult {
        guard let pmdT = pmdTableID(mm, addr) else { return .noPage }
        let pmd = pmdEntry(mm, addr)
        if pmd.isHuge {
            await pmdLock(t, pmdT, mm, addr)
            let r = followHugePMD(t, mm, vma, addr, flags)
            await pmdUnlock(t, pmdT, mm, addr)
            return r
        }
        guard pmd.isTable else { return .noPage }
        let slot = PTESlot(table: pmd.tableID, index: VirtualAddress(addr).pteIndex)
        await ptlLock(t, slot.table, mm, addr)
        let r = followPagePTE(t, mm, vma, addr, slot, flags)
        await ptlUnlock(t, slot.table, mm, addr)
        return r
    }

    /// `follow_huge_pmd`, PMD lock held.
    private func followHugePMD(_ t: SimThread, _ mm: MM, _ vma: VMA, _ addr: UInt64, _ flags: GUPFlags) -> FollowResult {
        let e = pmdEntry(mm, addr)
        guard e.isHuge, !e.isProtNone else { return .noPage }
        if flags.contains(.write) && !canFollowWritePMD(e, vma, flags) { return .noPage }
        let folio = e.pfn
        if !e.isWritable && gupMustUnshare(vma, flags, folio) { return .mustUnshare }
        let page = folio + VirtualAddress(addr).pteIndex
        if flags.contains(.pin) && memory.isAnon(folio) && !memory.anonExclusive(folio) {
            report(.pinnedPageExclusive, mm, addr: addr, folio: folio, "follow_huge_pmd: FOLL_PIN of a non-exclusive anon THP")
        }
        guard tryGrabFolio(folio, 1, flags) else { return .error(.enomem("try_grab_folio failed")) }
        trace(t, "follow_huge_pmd", "\(flags.contains(.pin) ? "pin" : "get") \(page) of THP at \(VirtualAddress(addr))")
        return .page(page)
    }

    /// `follow_page_pte`, PTL held.
    private func followPagePTE(_ t: SimThread, _ mm: MM, _ vma: VMA, _ addr: UInt64, _ slot: PTESlot, _ flags: GUPFlags) -> FollowResult {
        let p = pte(slot)
        guard p.isPresent, !p.isProtNone else { return .noPage }
        var page = vmNormalPage(p)
        if flags.contains(.write) && !canFollowWritePTE(p, page, vma, flags) { return .noPage }
        if page == nil {
            guard p.pfn == memory.zeroPFN else { return .error(.efault("PFN mapping without struct page")) }
            page = memory.zeroPFN
        }
        let pg = page!
        if !p.isWritable && gupMustUnshare(vma, flags, pg) { return .mustUnshare }
        let folio = memory.folio(of: pg)
        if flags.contains(.pin) && memory.isAnon(folio) && !memory.anonExclusive(pg) {
            report(.pinnedPageExclusive, mm, addr: addr, folio: folio, "follow_page_pte: FOLL_PIN of a non-exclusive anon page")
        }
        guard tryGrabFolio(folio, 1, flags) else { return .error(.enomem("try_grab_folio failed")) }
        let what = memory.isAnon(folio) ? (memory.anonExclusive(pg) ? " (AE)" : "") : memory.isZero(folio) ? " (zero page)" : " (pagecache)"
        trace(t, "follow_page_pte", "\(flags.contains(.pin) ? "pin" : "get") \(pg) at \(VirtualAddress(addr))\(what)")
        return .page(pg)
    }

    /// `can_follow_write_pte` under the S7 switch.
    func canFollowWritePTE(_ p: PTE, _ page: PFN?, _ vma: VMA, _ flags: GUPFlags) -> Bool {
        if p.isWritable { return true }
        guard flags.contains(.force), !vma.isShared, vma.flags.contains(.mayWrite), !vma.flags.contains(.write) else { return false }
        switch semantics.forceWrite {
        case .follCOW:
            return flags.contains(.cow) && p.isDirty
        case .ae:
            guard let page, memory.isAnon(memory.folio(of: page)), memory.anonExclusive(page) else { return false }
            if !vma.flags.contains(.softDirty) && !p.isSoftDirty { return false }
            return !p.isUffdWp
        }
    }

    /// `can_follow_write_pmd`.
    func canFollowWritePMD(_ e: PMDEntry, _ vma: VMA, _ flags: GUPFlags) -> Bool {
        if e.isWritable { return true }
        guard flags.contains(.force), !vma.isShared, vma.flags.contains(.mayWrite), !vma.flags.contains(.write) else { return false }
        return memory.isAnon(e.pfn) && memory.anonExclusive(e.pfn)
    }

    /// `gup_must_unshare` under the S2 switch (vma == nil from GUP-fast). `page` is the
    /// subpage for PTE mappings and the head for PMD mappings.
    func gupMustUnshare(_ vma: VMA?, _ flags: GUPFlags, _ page: PFN) -> Bool {
        guard flags.contains(.pin), !flags.contains(.write) else { return false }
        let folio = memory.folio(of: page)
        if !memory.isAnon(folio) {
            guard semantics.roPin == .unshareCOWLongterm, flags.contains(.longterm) else { return false }
            guard let vma else { return true }
            return vma.isCOWMapping
        }
        switch semantics.roPin {
        case .none, .forceCOW: return false
        case .unshareAnon, .unshareCOWLongterm: return !memory.anonExclusive(page)
        }
    }

    /// `try_grab_folio`: FOLL_GET takes a reference; FOLL_PIN adds GUP_PIN_COUNTING_BIAS to a
    /// small folio or one reference plus one `_pincount` to a large one; the zero page is
    /// never counted for FOLL_PIN.
    func tryGrabFolio(_ folio: PFN, _ refs: Int32, _ flags: GUPFlags) -> Bool {
        guard memory.refcountIs(folio, >, 0) else { return false }
        if flags.contains(.get) {
            memory.folioGet(folio, refs)
            return true
        }
        if memory.isZero(folio) { return true }
        if memory.isLarge(folio) {
            memory.folioGet(folio, refs)
            memory.withMeta(folio) { $0.pincount += refs }
        } else {
            memory.folioGet(folio, refs * gupPinCountingBias)
        }
        return true
    }

    /// `gup_put_folio`.
    func gupPutFolio(_ folio: PFN, _ refs: Int32, _ flags: GUPFlags) {
        if flags.contains(.pin) {
            if memory.isZero(folio) { return }
            if memory.isLarge(folio) {
                memory.withMeta(folio) { $0.pincount -= refs }
                memory.folioPut(folio, refs)
            } else {
                memory.folioPut(folio, refs * gupPinCountingBias)
            }
        } else {
            memory.folioPut(folio, refs)
        }
    }

    /// `unpin_user_pages` (or `put_page` for FOLL_GET) with the `sanity_check_pinned_pages`
    /// check that a pinned anon page is exclusive. `function` and `step` name the caller in
    /// traces (a pipe read drops its references in `pipe_read`).
    package func unpinUserPages(_ t: SimThread?, _ pages: [PFN], flags: GUPFlags, mm: MM?,
                               function: StaticString = "unpin_user_pages", step: StaticString? = nil) async {
        for page in pages {
            let folio = memory.folio(of: page)
            if let t { await schedule(t, function, step ?? (flags.contains(.pin) ? "gup_put_folio" : "put_page"), .folio(folio), .write) }
            if flags.contains(.pin), memory.isAnon(folio), !memory.isZero(folio) {
                let ok = memory.isLarge(folio) ? (memory.anonExclusive(folio) || memory.anonExclusive(page)) : memory.anonExclusive(folio)
                if !ok {
                    report(.pinnedPageExclusive, mm, folio: folio, "unpin_user_page: pinned anon \(page) is not exclusive")
                }
            }
            gupPutFolio(folio, 1, flags)
        }
        if let t { trace(t, function, "release \(pages.count) page(s)") }
    }
}
