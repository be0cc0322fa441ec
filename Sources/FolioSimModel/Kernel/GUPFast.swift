/// GUP-fast (mm/gup.c `gup_fast_fallback` → `gup_fast` → `gup_fast_pte_range` /
/// `gup_fast_pmd_leaf`, `try_grab_folio_fast`): a lockless walk whose every load and atomic
/// update is its own scheduling point, numbered as in the kernel comments: (B1) read the PTE,
/// (B2) FOLL_WRITE needs a writable PTE, (B3) grab the folio, (B4) re-read PMD and PTE and back
/// off on change, (B5) a read-only PTE needs AE. FOLL_PIN samples `write_protect_seq` first
/// and backs off completely if a fork overlapped. What it cannot get goes to the slow path.
/// Left out: devmap, P2PDMA, secretmem, `arch_make_folio_accessible`.
extension World {
    /// `get_user_pages_fast` / `pin_user_pages_fast`.
    package func getUserPagesFast(_ t: SimThread, addr: UInt64, nrPages: Int, flags: GUPFlags) async throws(MMError) -> [PFN] {
        try validateGUPFlags(flags)
        let mm = t.mm
        if flags.contains(.pin) && !mm.hasPinned {
            await schedule(t, "gup_fast_fallback", "set MMF_HAS_PINNED", .mmFlags(mm: mm.index), .write)
            mm.hasPinned = true
            trace(t, "gup_fast_fallback", "set MMF_HAS_PINNED on \(mm.name)")
        }
        // 5.8 (S2 = force-cow): the fast walk requires writable PTEs even for reads, so that
        // the slow path can break COW first (`internal_get_user_pages_fast`).
        let fastFlags = semantics.roPin == .forceCOW ? flags.union(.write) : flags
        var got = await gupFast(t, mm, addr, nrPages, fastFlags)
        for p in got { gupKeep(t, p, flags) }
        if got.count == nrPages { return got }
        trace(t, "gup_fast_fallback", "fast path got \(got.count)/\(nrPages): slow path for the rest")
        do {
            got += try await getUserPages(t, addr: addr + UInt64(got.count) * Geometry.pageSize,
                                          nrPages: nrPages - got.count, flags: flags)
        } catch {
            if got.isEmpty { throw error }
            await unpinUserPages(t, got, flags: flags, mm: mm)
            throw error
        }
        return got
    }

    /// `gup_fast`: the lockless walk with the `write_protect_seq` protocol.
    func gupFast(_ t: SimThread, _ mm: MM, _ start: UInt64, _ nrPages: Int, _ flags: GUPFlags) async -> [PFN] {
        let checkSeq = flags.contains(.pin) && semantics.gupFastFork == .wpSeq && !semantics.gupFastSkipsSeqCheck
        var seq: UInt32 = 0
        if checkSeq {
            await schedule(t, "gup_fast", "raw_read_seqcount", .seqcount(mm: mm.index), .read)
            seq = mm.writeProtectSeq
            if seq & 1 != 0 {
                trace(t, "gup_fast", "write_protect_seq odd (fork in progress): go slow")
                return []
            }
        }
        var pages: [PFN] = []
        await gupFastWalkBegin(t, mm)
        walk: while pages.count < nrPages {
            // gup_fast_pmd_range: one lockless read of the PMD, then its PTEs.
            let addr = start + UInt64(pages.count) * Geometry.pageSize
            await schedule(t, "gup_fast_pmd_range", "pmdp_get_lockless", pmdObject(mm, addr), .read)
            let pmd = pmdEntry(mm, addr)
            let inPMD = min(nrPages - pages.count, Int(((addr | (Geometry.pmdSize - 1)) + 1 - addr) >> Geometry.pageShift))
            for k in 0..<inPMD {
                let a = addr + UInt64(k) * Geometry.pageSize
                guard let page = await gupFastOne(t, mm, a, pmd, flags) else { break walk }
                pages.append(page)
            }
        }
        await gupFastWalkEnd(t, mm)
        if checkSeq {
            await schedule(t, "gup_fast", "read_seqcount_retry", .seqcount(mm: mm.index), .read)
            if mm.writeProtectSeq != seq {
                trace(t, "gup_fast", "write_protect_seq changed (\(seq) → \(mm.writeProtectSeq)): unpin \(pages.count), go slow")
                for p in pages {
                    await schedule(t, "gup_fast", "gup_put_folio (unpin_user_pages_lockless)", .folio(memory.folio(of: p)), .write)
                    gupPutFolio(memory.folio(of: p), 1, flags)
                }
                return []
            }
        }
        return pages
    }

    /// One page of `gup_fast_pte_range` (or `gup_fast_pmd_leaf`) under the PMD value the walk
    /// read; nil stops the walk. Nothing keeps the folio alive before B3: interrupts off keep
    /// the page tables (not the folio) from being freed, `folio_try_get` fails on a freed
    /// folio (refcount 0), and B4/B5 catch one that was unmapped or reused after the PTE was
    /// read. From B3 the speculative reference keeps it.
    private func gupFastOne(_ t: SimThread, _ mm: MM, _ addr: UInt64, _ pmd: PMDEntry, _ flags: GUPFlags) async -> PFN? {
        if pmd.isHuge {
            if pmd.isProtNone || (flags.contains(.write) && !pmd.isWritable) { return nil }
            let folio = pmd.pfn
            let page = folio + VirtualAddress(addr).pteIndex
            await schedule(t, "gup_fast_pmd_leaf", "try_grab_folio_fast", .folio(folio), .write)
            guard await tryGrabFolioFast(t, page, folio, flags) else { return nil }
            await schedule(t, "gup_fast_pmd_leaf", "re-read PMD", pmdObject(mm, addr), .read)
            if !semantics.gupFastSkipsPTERecheck && pmdEntry(mm, addr) != pmd {
                gupPutFolio(folio, 1, flags)
                return nil
            }
            if !gupFastFolioAllowed(folio, flags) {
                gupPutFolio(folio, 1, flags)
                return nil
            }
            if !pmd.isWritable && gupMustUnshare(nil, flags, folio) {
                gupPutFolio(folio, 1, flags)
                return nil
            }
            trace(t, "gup_fast_pmd_leaf", "\(flags.contains(.pin) ? "pin" : "get") \(page) at \(VirtualAddress(addr))")
            return page
        }
        guard pmd.isTable else { return nil }
        let slot = PTESlot(table: pmd.tableID, index: VirtualAddress(addr).pteIndex)
        await schedule(t, "gup_fast_pte_range", "B1 ptep_get_lockless", .pte(slot), .read)
        let p = pte(slot)
        trace(t, "gup_fast_pte_range", "B1 read \(p) at \(VirtualAddress(addr))")
        if !p.isUserAccessible || (flags.contains(.write) && !p.isWritable) {
            trace(t, "gup_fast_pte_range", "B2 PTE not usable: stop")
            return nil
        }
        if p.isSpecial { return nil }
        let page = p.pfn
        let folio = memory.folio(of: page)
        await schedule(t, "gup_fast_pte_range", "B3 try_grab_folio_fast", .folio(folio), .write)
        guard await tryGrabFolioFast(t, page, folio, flags) else { return nil }
        trace(t, "gup_fast_pte_range", "B3 grabbed \(folio)")
        await schedule(t, "gup_fast_pte_range", "B4 re-read PMD and PTE", .pte(slot), .read)
        if !semantics.gupFastSkipsPTERecheck && (pmdEntry(mm, addr) != pmd || !pteSame(slot, p)) {
            trace(t, "gup_fast_pte_range", "B4 PTE changed: undo, stop")
            gupPutFolio(folio, 1, flags)
            return nil
        }
        if !gupFastFolioAllowed(folio, flags) {
            gupPutFolio(folio, 1, flags)
            return nil
        }
        await schedule(t, "gup_fast_pte_range", "B5 read AE", .folio(folio), .read)
        if !p.isWritable && gupMustUnshare(nil, flags, page) {
            trace(t, "gup_fast_pte_range", "B5 read-only PTE, \(page) not exclusive: undo, stop")
            gupPutFolio(folio, 1, flags)
            return nil
        }
        return page
    }

    /// `gup_fast_folio_allowed`: only a long-term writable pin of a non-shmem file page goes
    /// slow (it needs the filesystem's dirty tracking).
    private func gupFastFolioAllowed(_ folio: PFN, _ flags: GUPFlags) -> Bool {
        if !memory.isAnon(folio) && !memory.isZero(folio) && flags.isSuperset(of: [.pin, .longterm, .write]),
           let f = fileOf(folio), files[f].kind == .regular {
            return false
        }
        return true
    }

    /// `try_grab_folio_fast`: `folio_try_get` refuses a folio whose refcount is zero (being
    /// freed); after the reference is taken, a separate step rechecks that the page still
    /// belongs to that folio (a split may have raced) and backs off if not.
    private func tryGrabFolioFast(_ t: SimThread, _ page: PFN, _ folio: PFN, _ flags: GUPFlags) async -> Bool {
        guard memory.isAllocated(folio), memory.refcountIs(folio, >, 0) else { return false }
        guard tryGrabFolio(folio, 1, flags) else { return false }
        await schedule(t, "try_grab_folio_fast", "recheck page_folio", .folio(folio), .read)
        if !memory.isAllocated(page) || memory.folio(of: page) != folio {
            trace(t, "try_grab_folio_fast", "\(page) left \(folio): drop the reference, stop")
            gupPutFolio(folio, 1, flags)
            return false
        }
        return true
    }

    /// The file whose pagecache holds `folio` (linear search; only GUP-fast's file check uses it).
    func fileOf(_ folio: PFN) -> Int? {
        files.firstIndex { $0.pages.contains(folio.raw) }
    }
}
