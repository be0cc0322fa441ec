/// The pin invariants and the `checkPin` assertion.
///
/// A pin counts for these checks once the kernel keeps it: a slow-GUP pin from the moment
/// `follow_page_pte` takes it, a GUP-fast one once `gup_fast` is past its last re-check
/// (`SimThread.gupKept`), until the driver holds it (`pins`). GUP-fast's speculative
/// reference before that is a reference, not a pin: it may still be dropped.
///
/// - `pinned-page-exclusive` (I4, 5.19+): a kept FOLL_PIN of a mapped anon page is AE.
/// - `pin-stays-mapped` (I4): the kernel does not move a pinned page away from the pinned
///   address by its own means, as far as the rules in force promised it (`pinPromise`). The
///   user may unmap or move it, also during the GUP call (`UserActivity`).
/// - `checkPin` (a config's assertion, every preset): a FOLL_PIN pin still sees the page the
///   process maps at the pinned address (`pin-coherent`); that is how a historic bug shows
///   under its era.
extension World {
    /// What the rules in force promise about a pin with `flags` of a page that is anon or not:
    /// that no COW fault replaces the pinned page in the owner's page table (`cow`), and that
    /// reclaim does not unmap it for swap-out (`swap`).
    /// - write FOLL_PIN: from 5.9, early COW at fork keeps it exclusive (70e806e4e645);
    /// - R/O FOLL_PIN: in 5.8 GUP broke COW on a read too (17839856fd58, undone in 5.9); of
    ///   anon pages with FOLL_LONGTERM from 5.19 (unshare); of the zero page and pagecache in
    ///   COW mappings with FOLL_LONGTERM from 6.2;
    /// - swap-out: 5.11 keeps a maybe-pinned page out of the swap cache (feb889fb40fa); 5.19
    ///   makes it reliable (try-share fails on a maybe-pinned page).
    func pinPromise(_ flags: GUPFlags, anon: Bool) -> (cow: Bool, swap: Bool) {
        guard flags.contains(.pin) else { return (false, false) }
        let cow: Bool
        if flags.contains(.write) {
            cow = semantics.forkPinned != .share
        } else {
            switch semantics.roPin {
            case .none: cow = false
            case .forceCOW: cow = true
            case .unshareAnon: cow = anon && flags.contains(.longterm)
            case .unshareCOWLongterm: cow = flags.contains(.longterm)
            }
        }
        return (cow, semantics.pinnedSwapout == .keep)
    }

    /// The page the process would see at `addr`: the page a PTE or huge PMD maps, or the
    /// swapcache page behind a swap PTE (a fault would map that page back). Unlogged.
    func resolvedPage(_ mm: MM, _ addr: UInt64) -> (page: PFN?, swapped: Bool) {
        let e = pmdEntry(mm, addr)
        if e.isHuge { return (e.pfn + VirtualAddress(addr).pteIndex, false) }
        let p = readPTE(mm, addr)
        if p.isPresent { return (p.pfn, false) }
        if p.isSwap {
            let cached = swap.cache[p.swapSlot]
            return (cached != 0 ? PFN(cached) : nil, true)
        }
        return (nil, false)
    }

    /// Where a held pin's page `j` is expected now (following the user's mremaps), nil when the
    /// user unmapped it or moved it during the GUP call.
    func pinnedAddress(_ pin: PinRecord, _ j: Int) -> UInt64? {
        userActivity.follow(mm: pin.mm, pin.addr + UInt64(j) * Geometry.pageSize, since: pin.since, registered: pin.registered)
    }

    /// The at-rest pin checks over the held pins.
    func checkPins() {
        for pin in pins where !pin.released {
            let mm = mms[pin.mm]
            if pin.flags.contains(.pin) && !mm.hasPinned {
                report(.hasPinnedSet, mm, addr: pin.addr, "pin \(pin.id) exists but MMF_HAS_PINNED is clear")
            }
            guard pin.flags.contains(.pin) else { continue }
            for (j, page) in pin.pages.enumerated() {
                let folio = memory.folio(of: page)
                guard !memory.isZero(folio) || semantics.roPin == .unshareCOWLongterm else { continue }
                let anon = memory.isAnon(folio)
                if anon && !memory.isZero(folio) && isMappedAnywhere(page) && !pinnedPageIsExclusive(page) {
                    report(.pinnedPageExclusive, mm, addr: pin.addr + UInt64(j) * Geometry.pageSize, folio: folio, "pin \(pin.id): pinned \(page) is mapped but not AE")
                }
                guard mm.alive, let addr = pinnedAddress(pin, j) else { continue }
                checkStaysMapped(pin, page, folio, mm, addr, anon: anon)
            }
        }
    }

    private func checkStaysMapped(_ pin: PinRecord, _ page: PFN, _ folio: PFN, _ mm: MM, _ addr: UInt64, anon: Bool) {
        let (now, swapped) = resolvedPage(mm, addr)
        let promise = pinPromise(pin.flags, anon: anon)
        let moved: String
        if swapped {
            // Swapped out: charged where the kernel promised to keep pinned pages mapped. In
            // 5.11–5.18 only reclaim that began after the pin was held (it saw the pin).
            let charged = semantics.hasAnonExclusive
                || (promise.swap && userActivity.pagedOutAfter(mm: mm.index, addr, registered: pin.registered))
            guard charged && promise.swap else { return }
            moved = "the address holds a swap entry (swap-out unmapped a pinned page)"
        } else {
            guard now != page, promise.cow else { return }
            moved = now.map { "the address now maps \($0)" } ?? "the address maps nothing"
        }
        report(.pinStaysMapped, mm, addr: addr, folio: folio, "pin \(pin.id): pinned \(page) but \(moved)")
    }

    /// Whether some PTE or PMD maps `page`.
    private func isMappedAnywhere(_ page: PFN) -> Bool {
        let folio = memory.folio(of: page)
        return memory.pageMapcount(page) > 0 || (memory.isLarge(folio) && memory.meta(folio).entireMapcount > 0)
    }
    /// PageAnonExclusive of a pinned page (the head's for a PMD-mapped THP).
    private func pinnedPageIsExclusive(_ page: PFN) -> Bool {
        let folio = memory.folio(of: page)
        return memory.anonExclusive(page) || (memory.isLarge(folio) && memory.anonExclusive(folio))
    }

    /// I4 after a step, for the kept pins (held, or kept by a GUP call in flight) whose folio
    /// the step touched (head PFNs, possibly repeated): a pinned anon page that is still
    /// mapped is AE. Reads the pins of each touched folio (so a step that keeps or drops a pin
    /// on it conflicts with this one).
    func checkPinnedExclusive(_ touched: [PFN]) {
        guard !touched.isEmpty, semantics.hasAnonExclusive else { return }
        func check(_ page: PFN, _ flags: GUPFlags, _ who: String) {
            guard flags.contains(.pin), memory.isAllocated(page) else { return }
            let folio = memory.folio(of: page)
            guard touched.contains(folio), memory.isAnon(folio), !memory.isZero(folio) else { return }
            guard isMappedAnywhere(page), !pinnedPageIsExclusive(page) else { return }
            report(.pinnedPageExclusive, nil, folio: folio, "\(who): pinned \(page) is mapped but not AE")
        }
        if let l = log { for f in touched { l.note(.pins(f), write: false) } }
        for pin in pins where !pin.released {
            for page in pin.pages { check(page, pin.flags, "pin \(pin.id)") }
        }
        for t in threads {
            for k in t.gupKept { check(k.page, k.flags, "GUP in flight (\(t.name))") }
        }
    }

    /// `checkPin`: for each page of the FOLL_PIN pin `id`, whether the address (followed
    /// through the user's mremaps) still resolves to the pinned page. A page the user may
    /// have unmapped or moved away (during the GUP call or after it) is exempt when it is not
    /// found. Reports a stale page as `pin-coherent` under every preset. Returns the verdict
    /// ("stale" if a page is; else "unmapped" if a pinned page is exempt, the rest agreeing;
    /// else "coherent"; "not checked" for a FOLL_GET reference) and the pages that agree.
    package func checkPinCoherent(_ id: String) -> (verdict: String, coherent: Int, pages: Int)? {
        guard let pin = pins.last(where: { $0.id == id && !$0.released }) else { return nil }
        guard pin.flags.contains(.pin) else { return ("not checked", 0, pin.pages.count) }
        let mm = mms[pin.mm]
        var coherent = 0
        var stale = false, unmapped = false
        for (j, page) in pin.pages.enumerated() {
            let (addrs, dropped) = userActivity.whereabouts(mm: pin.mm, pin.addr + UInt64(j) * Geometry.pageSize,
                                                            since: pin.since, registered: pin.registered)
            guard mm.alive else { unmapped = true; continue }
            let now = addrs.map { resolvedPage(mm, $0).page }
            if now.contains(page) {
                coherent += 1
            } else if dropped {
                unmapped = true
            } else {
                stale = true
                let addr = addrs[addrs.count - 1]
                report(.pinCoherent, mm, addr: addr, folio: memory.folio(of: page),
                       "pin \(id) holds \(page) (data \(memory.data(page))) but the address maps \(now[now.count - 1].map { "\($0) (data \(memory.data($0)))" } ?? "nothing")")
            }
        }
        return (stale ? "stale" : unmapped ? "unmapped" : "coherent", coherent, pin.pages.count)
    }
}
