/// The checker's per-mapping checks, one 2 MiB unit at a time: each PTE or huge PMD of the
/// unit is checked against the page it maps, and counted into the aggregates the folio pass
/// compares with the folios' own counts (CheckState.swift). `subtractUnit` takes a unit's
/// contribution as of the last check back out.
extension World {
    /// Checks the unit at `u` and adds what it maps to the aggregates.
    func addUnit(_ mm: MM, _ u: UInt64, _ spans: [VMASpan], _ st: CheckState, _ w: inout ChangeWatch) -> UnitRecord {
        checkWork.units += 1
        var rec = UnitRecord(addr: u)
        rec.span0 = spans[0].packed
        if spans.count > 1 { rec.moreSpans = spans.dropFirst().map(\.packed) }
        guard let pmdT = pmdTableID(mm, u) else { return rec }
        let e = tables.peekPMDTable(pmdT).entries[VirtualAddress(u).pmdIndex]
        rec.pmd = e.raw
        if e.isTable {
            rec.table = e.tableID
        } else if e.isHuge {
            rec.table = tables.peekPMDTable(pmdT).deposited[VirtualAddress(u).pmdIndex]
        }
        for span in spans {
            if tables.peekPMDTable(pmdT).lockOwner != 0 { report(.locksReleased, mm, addr: span.start, "PMD lock still held") }
            if e.isHuge {
                checkHugePMD(mm, span.vma, span.start, e, pmdT, st, &rec, &w)
            } else if e.isTable {
                let tab = tables.peekPTETable(e.tableID)
                if tab.ptlOwner != 0 { report(.locksReleased, mm, addr: span.start, "PTL still held") }
                var a = span.start
                while a < span.end {
                    checkPTE(mm, span.vma, a, tab, e.tableID, VirtualAddress(a).pteIndex, st, &rec, &w)
                    a += Geometry.pageSize
                }
            }
        }
        if !rec.largeHeads.isEmpty {
            rec.largeHeads = Array(Set(rec.largeHeads)).sorted()
            for h in rec.largeHeads {
                st.mappers[h, default: [:]][mm.index, default: 0] += 1
                memory.markChanged(Int(h))
            }
        }
        st.addRSS(mm.index, rec.rss, 1)
        return rec
    }

    /// Takes back what `rec` added at the last check: its counts, and the pages and swap
    /// slots its PTEs mapped then.
    func subtractUnit(_ mm: MM, _ rec: UnitRecord, _ st: CheckState, _ w: inout ChangeWatch) {
        st.addRSS(mm.index, rec.rss, -1)
        if rec.pmdFolio != 0 {
            let n = (st.pmdMaps[rec.pmdFolio] ?? 0) - rec.pmdCount
            st.pmdMaps[rec.pmdFolio] = n == 0 ? nil : n
            memory.markChanged(Int(rec.pmdFolio))
        }
        for h in rec.largeHeads {
            let n = (st.mappers[h]?[mm.index] ?? 0) - 1
            st.mappers[h]?[mm.index] = n == 0 ? nil : n
            if st.mappers[h]?.isEmpty == true { st.mappers[h] = nil }
            memory.markChanged(Int(h))
        }
        guard PMDEntry(raw: rec.pmd).isTable, let old = tables.peekPTETable(rec.table).entriesAtLastCheck else { return }
        for packed in rec.spans {
            for i in VMASpan.pages(packed) {
                let q = old[i]
                if q.isNone { continue }
                if q.isSwap {
                    let n = (st.swapRefs[q.swapSlot] ?? 0) - 1
                    st.swapRefs[q.swapSlot] = n == 0 ? nil : n
                    w.slotChanged(q.swapSlot)
                } else if q.isPresent && !q.isSpecial {
                    st.pteMaps.remove(q.pfn)
                    memory.markChanged(q.pfn.index)
                }
            }
        }
    }

    private func checkHugePMD(_ mm: MM, _ vma: VMA, _ addr: UInt64, _ e: PMDEntry, _ pmdT: Int32,
                              _ st: CheckState, _ rec: inout UnitRecord, _ w: inout ChangeWatch) {
        let folio = e.pfn
        guard memory.isAllocated(folio) else {
            report(.noUseAfterFree, mm, addr: addr, folio: folio, "huge PMD maps a freed folio")
            return
        }
        if memory.isZero(folio) {
            if e.isWritable { report(.zeroPageReadOnly, mm, addr: addr, folio: folio, "huge zero PMD is writable") }
        } else {
            st.pmdMaps[folio.raw, default: 0] += 1
            rec.pmdFolio = folio.raw
            rec.pmdCount += 1
            w.pmdAdded(folio)
            memory.markChanged(folio.index)
            rec.largeHeads.append(folio.raw)
            if memory.isAnon(folio) {
                rec.rss.anon += Int32(Geometry.ptrsPerTable)
                if e.isWritable && !memory.anonExclusive(folio) {
                    report(.writablePTEImpliesExclusive, mm, addr: addr, folio: folio, "writable huge PMD maps a THP whose head is not AE")
                }
            }
        }
        let dep = tables.peekPMDTable(pmdT).deposited[VirtualAddress(addr).pmdIndex]
        guard dep != 0, !vma.isShared else { return }
        for i in 0..<Geometry.ptrsPerTable {
            let want: UInt32 = shadow.isWritten(dep, i) ? shadow.expected(dep, i) : 0
            let have = memory.data(folio + i)
            if have != want {
                report(.noLostWrite, mm, addr: addr + UInt64(i) * Geometry.pageSize, folio: folio,
                       "THP page reads \(have), last write stored \(want)")
                return
            }
        }
    }

    /// One PTE. A present, non-special PTE counts as a mapping of its PFN whatever the
    /// frame holds, so that the count can be taken back from the entry alone.
    @_transparent private func checkPTE(_ mm: MM, _ vma: VMA, _ a: UInt64, _ tab: PTETable, _ id: Int32, _ i: Int,
                          _ st: CheckState, _ rec: inout UnitRecord, _ w: inout ChangeWatch) {
        let p = tab.ptes[i]
        let written = shadow.isWritten(id, i)
        let want: UInt32 = written ? shadow.expected(id, i) : 0
        if p.isNone {
            if written { report(.noLostWrite, mm, addr: a, "address was written (\(want)) but maps nothing") }
            return
        }
        if p.isSwap {
            rec.rss.swap += 1
            let slot = p.swapSlot
            st.swapRefs[slot, default: 0] += 1
            w.slotAdded(slot)
            if swap.cache[slot] != 0 {
                let page = PFN(swap.cache[slot])
                if memory.anonExclusive(page) {
                    report(.swapPageNotExclusive, mm, addr: a, folio: memory.folio(of: page), "swapcache \(page) behind a swap PTE is AE")
                }
                if !vma.isShared && memory.data(page) != want && (written || vma.isAnonymous) {
                    report(.noLostWrite, mm, addr: a, folio: page, "swapped page holds \(memory.data(page)), last write stored \(want)")
                }
            } else if !vma.isShared && swap.data[slot] != want && (written || vma.isAnonymous) {
                report(.noLostWrite, mm, addr: a, "swap slot \(slot) holds \(swap.data[slot]), last write stored \(want)")
            }
            return
        }
        guard p.isPresent else { return }
        let page = p.pfn
        if p.isSpecial {
            if page != memory.zeroPFN { return }
            if p.isWritable { report(.zeroPageReadOnly, mm, addr: a, "zero page mapped writable") }
            if written && want != 0 { report(.noLostWrite, mm, addr: a, "zero page mapped where \(want) was written") }
            return
        }
        st.pteMaps.add(page)
        w.pageAdded(page)
        // Frames read raw, as in checkFolio: the checker records no footprint.
        guard page.index < memory.frameCount, memory.frames[page.index].flags & PageFlag.allocated != 0 else {
            memory.markChanged(page.index)
            report(.noUseAfterFree, mm, addr: a, folio: page, "PTE maps a freed page")
            return
        }
        let pf = memory.frames[page.index]
        // The folio pass checks the page's folio, unless this is its first mapping the
        // check counts and `checkFolio`'s small-folio shortcut already holds for it, as
        // `settles` explains. A later count of the page marks it again.
        if w.settles && pf.flags & ChangeWatch.settledFlags == PageFlag.head | PageFlag.anon
            && pf.map == 1 && pf.ref == 1 && st.pteMaps[page] == 1 {
            memory.clearChanged(page.index)
        } else {
            memory.markChanged(page.index)
        }
        let folio = memory.peekFolio(of: page)
        let large = pf.flags & PageFlag.orderMask != 0
        let folioFlags = memory.frames[folio.index].flags
        if folioFlags & PageFlag.zero != 0 {
            report(.zeroPageReadOnly, mm, addr: a, folio: folio, "zero page mapped without the special bit")
            return
        }
        if large && rec.largeHeads.last != folio.raw { rec.largeHeads.append(folio.raw) }
        if folioFlags & PageFlag.anon != 0 {
            rec.rss.anon += 1
            if p.isWritable && pf.flags & PageFlag.anonExclusive == 0 {
                report(.writablePTEImpliesExclusive, mm, addr: a, folio: folio, "writable PTE maps \(page), which is not AE")
            }
        } else {
            rec.rss.file += 1
        }
        if !vma.isShared && (written || vma.isAnonymous) && pf.data != want {
            report(.noLostWrite, mm, addr: a, folio: folio, "\(page) holds \(pf.data), last write stored \(want)")
        }
    }
}

/// Pages, folios and swap slots that changed in a way the per-mapping checks read (data,
/// PageAnonExclusive, the folio's kind and shape; a slot's data or swapcache page), with the
/// mappings of them the incremental check revisited. A mapping it did not revisit is one the
/// last check saw, whose result may now differ: the full check must decide.
struct ChangeWatch {
    /// The checker's record, which holds the watched pages' marks and counts (nil in a full
    /// check, which watches nothing).
    private let state: CheckState?
    private var pages: [UInt32] = []
    private var folios: Set<UInt32> = []
    private var pmdAdds: [UInt32: Int32] = [:]
    private var slots: Set<Int> = []
    private var slotAdds: [Int: Int32] = [:]
    /// Slots whose swap PTEs changed: the swap pass rechecks their counts.
    private(set) var changedSlots: [Int] = []

    /// Whether the unit pass may settle a page's folio itself (`checkPTE`): in an
    /// incremental check whose record holds no pin, pagecache folio or huge PMD mapping,
    /// and with no pagecache folio added since. Then an order-0 anonymous folio, not locked
    /// and not in the swapcache, whose mapcount and refcount are 1 when the pass counts its
    /// first PTE mapping passes `checkFolio`'s small-folio shortcut, provided that its count
    /// stays 1 and no pin refers to it. Whatever could change that marks the page for the
    /// folio pass again: another PTE mapping it (`checkPTE`), a mapping the record took back
    /// (`subtractUnit`), a huge PMD mapping (`checkHugePMD`), a pin (`markDifferences`). Its
    /// frame cannot change during the check: the world is at rest.
    let settles: Bool
    /// The frame flags `settles` looks at; of them, only `head` and `anon` may be set.
    @inline(__always) static var settledFlags: UInt32 {
        PageFlag.orderMask | PageFlag.head | PageFlag.anon | PageFlag.locked | PageFlag.swapCache
            | PageFlag.zero | PageFlag.reserved | PageFlag.file
    }

    init(_ state: CheckState?, settles: Bool = false) {
        self.state = state
        self.settles = settles
    }

    mutating func watch(page: Int) {
        guard let st = state, !st.isWatched(page) else { return }
        st.setWatched(page, true)
        pages.append(UInt32(page))
    }
    mutating func watch(folio: Int) { folios.insert(UInt32(folio)) }
    mutating func watch(slot: Int) { slots.insert(slot) }

    @inline(__always) func pageAdded(_ p: PFN) {
        if let st = state, !pages.isEmpty, st.isWatched(p.index) { st.watchAdds.add(p) }
    }
    @inline(__always) mutating func pmdAdded(_ f: PFN) {
        if folios.contains(f.raw) { pmdAdds[f.raw, default: 0] += 1 }
    }
    @inline(__always) mutating func slotAdded(_ s: Int) {
        if !slots.isEmpty && slots.contains(s) { slotAdds[s, default: 0] += 1 }
        slotChanged(s)
    }
    @inline(__always) mutating func slotChanged(_ s: Int) {
        if state != nil { changedSlots.append(s) }
    }

    /// Whether every watched page, folio and slot is mapped only by what was revisited. The
    /// pages' marks and counts are cleared.
    func unchangedMappingsUnaffected(_ st: CheckState) -> Bool {
        var ok = true
        for p in pages {
            if st.pteMaps[PFN(p)] > st.watchAdds[PFN(p)] { ok = false }
            st.setWatched(Int(p), false)
        }
        guard ok else { return false }
        for f in folios where st.pmdMaps[f] ?? 0 > pmdAdds[f] ?? 0 { return false }
        for s in slots where st.swapRefs[s] ?? 0 > slotAdds[s] ?? 0 { return false }
        return true
    }
}

extension World {
    /// The pages, folios and slots to watch. A page mapped by an entry the check does not
    /// revisit matters if its data changed, its folio's kind or shape changed, or it lost
    /// PageAnonExclusive (gaining it breaks no mapping's check); the whole folio, before and
    /// after, is watched, and a PMD-sized one also for its PMD mappings. A swap slot matters if the data its swap PTEs read changed, or its
    /// swapcache page is AE.
    func pageSideChanges() -> ChangeWatch {
        var w = ChangeWatch(checkState, settles: checkState.map {
            $0.pinRefs.isEmpty && $0.pinCounts.isEmpty && $0.pagecache.isEmpty && $0.pmdMaps.isEmpty
        } == true && pagecacheAdded.isEmpty)
        let shape = PageFlag.allocated | PageFlag.head | PageFlag.buddy | PageFlag.orderMask | PageFlag.anon
            | PageFlag.zero | PageFlag.file | PageFlag.reserved
        for (pfn, old) in memory.framesAtLastCheck {
            let now = memory.frames[Int(pfn)]
            let lostAE = old.flags & PageFlag.anonExclusive != 0 && now.flags & PageFlag.anonExclusive == 0
            guard old.flags & shape != now.flags & shape || old.data != now.data || lostAE else { continue }
            let order = max(old.flags & PageFlag.orderMask, now.flags & PageFlag.allocated != 0 ? now.flags & PageFlag.orderMask : 0)
            let first = Int(pfn) & ~((1 << Int(order)) - 1)
            for p in first..<first + (1 << Int(order)) { w.watch(page: p) }
            if order == Geometry.pmdOrder {
                w.watch(folio: first)
                w.watch(folio: memory.folio(of: PFN(pfn)).index)
            }
        }
        guard let slots = swap.slotsAtLastCheck, swap.usedSlots > 0 || !slots.isEmpty else { return w }
        var dataAtLastCheck: [UInt32: UInt32] = [:]
        for (pfn, old) in memory.framesAtLastCheck where dataAtLastCheck[pfn] == nil { dataAtLastCheck[pfn] = old.data }
        func readsAtLastCheck(_ s: SwapDevice.SlotState) -> UInt32 {
            s.cache == 0 ? s.data : dataAtLastCheck[s.cache] ?? memory.frames[Int(s.cache)].data
        }
        func reads(_ s: SwapDevice.SlotState) -> UInt32 { s.cache == 0 ? s.data : memory.frames[Int(s.cache)].data }
        func cachedAE(_ s: SwapDevice.SlotState) -> Bool { s.cache != 0 && memory.frames[Int(s.cache)].flags & PageFlag.anonExclusive != 0 }
        for (slot, old) in slots {
            let now = swap.state(slot)
            if reads(now) != readsAtLastCheck(old) || cachedAE(now) { w.watch(slot: slot) }
        }
        // A swapcache page written (or made AE) while its slot's entry stayed.
        for (pfn, _) in memory.framesAtLastCheck {
            let folio = memory.folio(of: PFN(pfn))
            guard memory.frames[folio.index].flags & (PageFlag.allocated | PageFlag.swapCache) == PageFlag.allocated | PageFlag.swapCache,
                  let s0 = swap.peekSlot(of: folio) else { continue }
            let slot = s0 + Int(pfn) - folio.index
            guard slots[slot] == nil, slot < swap.slotCount else { continue }
            let now = swap.state(slot)
            if reads(now) != readsAtLastCheck(now) || cachedAE(now) { w.watch(slot: slot) }
        }
        return w
    }
}
