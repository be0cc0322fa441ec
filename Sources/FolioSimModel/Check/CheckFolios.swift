/// The checker's folio, pin and swap passes: each folio's own counts against the mappings,
/// pins, swapcache and pagecache references the checker counted.
extension World {
    /// The page mapped at `addr` (through a PTE or a huge PMD), nil if none.
    package func mappedPage(_ mm: MM, _ addr: UInt64) -> PFN? {
        let e = pmdEntry(mm, addr)
        if e.isHuge { return e.pfn + VirtualAddress(addr).pteIndex }
        let p = readPTE(mm, addr)
        return p.isPresent ? p.pfn : nil
    }

    /// The references the pins hold, and the `_pincount`s of large folios, by folio.
    func pinReferences() -> (refs: [UInt32: Int32], counts: [UInt32: Int32]) {
        var refs: [UInt32: Int32] = [:]
        var counts: [UInt32: Int32] = [:]
        for pin in pins where !pin.released {
            for page in pin.pages {
                let folio = memory.folio(of: page)
                if memory.isZero(folio) && pin.flags.contains(.pin) { continue }
                if pin.flags.contains(.get) {
                    refs[folio.raw, default: 0] += 1
                } else if memory.isLarge(folio) {
                    refs[folio.raw, default: 0] += 1
                    counts[folio.raw, default: 0] += 1
                } else {
                    refs[folio.raw, default: 0] += gupPinCountingBias
                }
            }
        }
        return (refs, counts)
    }

    /// One allocated folio, by its head. Frames are read raw: the checker looks at rest and
    /// records nothing in a step's footprint, and the logged accessors' checks were a third
    /// of its cost per folio (callgrind).
    @_transparent func checkFolio(_ folio: PFN, _ st: CheckState) {
        checkWork.folios += 1
        let frames = memory.frames
        let fr = frames[folio.index]
        if fr.flags & PageFlag.reserved != 0 && fr.flags & PageFlag.zero == 0 { return }
        if fr.flags & PageFlag.zero != 0 { return }
        let order = Int(fr.flags & PageFlag.orderMask)
        // A small folio that nothing but PTEs refers to, and whose counts all agree: the
        // general pass below would find nothing either. Any disagreement takes that pass,
        // which reports it.
        if order == 0 && fr.flags & (PageFlag.locked | PageFlag.swapCache) == 0
            && st.pmdMaps.isEmpty && st.pinRefs.isEmpty && st.pagecache.isEmpty {
            let seen = st.pteMaps[folio]
            let aeShared = fr.flags & (PageFlag.anonExclusive | PageFlag.anon) == PageFlag.anonExclusive | PageFlag.anon && seen > 1
            if fr.map == seen && fr.ref == seen && !aeShared { return }
        }
        let nr = 1 << order
        let anon = fr.flags & PageFlag.anon != 0
        if fr.flags & PageFlag.locked != 0 { report(.locksReleased, nil, folio: folio, "folio lock still held") }
        let pmds = st.pmdMaps.isEmpty ? 0 : st.pmdMaps[folio.raw] ?? 0
        var ptes: Int32 = 0, pagesMapped: Int32 = 0
        for k in 0..<nr {
            let page = folio + k
            let pf = frames[page.index]
            let seen = st.pteMaps[page]
            ptes += seen
            if seen > 0 { pagesMapped += 1 }
            if pf.map != seen {
                report(.mapcountMatchesMappings, nil, folio: folio, "\(page): mapcount \(pf.map), PTE mappings \(seen)")
            }
            if pf.flags & PageFlag.anonExclusive != 0 && anon && seen + (k == 0 ? pmds : 0) > 1 {
                report(.exclusivePageMappedOnce, nil, folio: folio, "AE \(page) is mapped \(seen + pmds) times")
            }
        }
        let pinRefs = st.pinRefs.isEmpty ? 0 : st.pinRefs[folio.raw] ?? 0
        var expected = ptes + pmds + pinRefs
        let swapCache = fr.flags & PageFlag.swapCache != 0
        if swapCache { expected += Int32(nr) }
        if !st.pagecache.isEmpty && st.pagecache.contains(folio.raw) { expected += 1 }
        if order > 0 {
            let m = memory.meta(folio)
            if m.largeMapcount != ptes + pmds || m.entireMapcount != pmds || m.nrPagesMapped != pagesMapped {
                report(.mapcountMatchesMappings, nil, folio: folio,
                       "large mapcount \(m.largeMapcount) (mappings \(ptes + pmds)), entire \(m.entireMapcount) (PMDs \(pmds)), nr_pages_mapped \(m.nrPagesMapped) (pages \(pagesMapped))")
            }
            if m.pincount != (st.pinCounts[folio.raw] ?? 0) {
                report(.refcountBalanced, nil, folio: folio, "_pincount \(m.pincount), pins held \(st.pinCounts[folio.raw] ?? 0)")
            }
            if anon {
                checkMMIDs(folio, m, (st.mappers[folio.raw] ?? [:]).keys.sorted())
                if pmds == 0 && pagesMapped > 0 && Int(pagesMapped) < nr && !swapCache
                    && order > 1 && fr.flags & PageFlag.deferredQueued == 0 {
                    report(.deferredSplitQueued, nil, folio: folio, "partially mapped (\(pagesMapped)/\(nr) pages) but not queued")
                }
            }
        }
        let ref = fr.ref
        if ref < expected {
            report(.refcountCoversMappings, nil, folio: folio, "refcount \(ref) < \(expected) (mappings \(ptes + pmds), pins/GUP \(pinRefs))")
        } else if ref > expected {
            report(.refcountBalanced, nil, folio: folio, "refcount \(ref) > \(expected) accounted (mappings \(ptes + pmds), pins/GUP \(pinRefs)): leaked reference")
        }
    }

    /// 6.15 MM-ID tracking: with the shared bit clear and some mapping, one mm maps the folio
    /// and its slot counts every mapping.
    private func checkMMIDs(_ folio: PFN, _ m: LargeFolioMeta, _ mappers: [Int]) {
        guard m.largeMapcount >= 1, !m.maybeMappedShared else { return }
        let owner = m.mmIdCount0 == m.largeMapcount ? m.mmId0 : (m.mmIdCount1 == m.largeMapcount ? m.mmId1 : 0)
        if mappers.count != 1 || owner != Int32(mappers[0] + 1) {
            report(.mmIDOwner, nil, folio: folio,
                   "shared bit clear, slots (\(m.mmId0):\(m.mmIdCount0), \(m.mmId1):\(m.mmIdCount1)), mapped by \(mappers.map { mms[$0].name })")
        }
    }

    func checkSwapSlot(_ slot: Int, _ st: CheckState) {
        let want = st.swapRefs[slot] ?? 0
        if swap.count[slot] != want {
            report(.swapCount, nil, "swap slot \(slot): count \(swap.count[slot]), swap PTEs \(want)")
        }
    }
}
