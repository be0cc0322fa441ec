/// How `checkInvariants` works.
public enum CheckStrategy: String, Sendable, CaseIterable {
    /// Every check walks every address space and every used frame (the explorer's choice:
    /// its worlds are small and copied per run).
    case full
    /// A check revisits what changed since the last one: the 2 MiB units whose PMD entry, PTE
    /// table, shadow or VMAs changed, the folios whose frames or mappings changed, the swap
    /// slots written or referred to anew. It falls back to a full check when it finds
    /// anything to report, when a changed page is still mapped by an unchanged entry in a way
    /// the checks read, or once any violation was reported. `run` uses it with `check: step`.
    case incremental
    /// Both, for tests: the full check reports; the incremental one must agree with it and
    /// every change must have been noted (CheckAudit.swift).
    case audit
}

/// The invariant checker: one walk over the live address spaces, then a pass over the folios,
/// comparing what the page tables say with what the folios count. It runs between operations
/// (a quiescent point: no kernel path is in flight), so it can also demand exact reference
/// balance and released locks. Findings are sorted so that reports are deterministic.
extension World {
    /// Runs every invariant and appends the violations found. Returns how many were new.
    @discardableResult
    package func checkInvariants() -> Int {
        let before = violations.count
        if checkStrategy == .audit { auditChangeMarks() }
        var incremental: CheckState?
        if checkStrategy != .full && memory.changesOverflowed { checkCounts.overflow += 1 }
        if checkStrategy != .full, let st = checkState, violations.isEmpty, !memory.changesOverflowed, !tables.anyLockHeld {
            if incrementalCheck(st) {
                checkCounts.incremental += 1
                if checkStrategy == .incremental {
                    finishIncrementalCheck()
                    return 0
                }
                incremental = st
            } else {
                checkCounts.fallback += 1
            }
        }
        checkCounts.full += 1
        let fresh = fullCheck()
        if checkStrategy == .audit { auditAgreement(incremental: incremental, fresh: fresh, found: violations.count - before) }
        finishFullCheck(fresh)
        return violations.count - before
    }

    /// Walks everything, builds the checker's record of it and reports what is wrong.
    private func fullCheck() -> CheckState {
        let st = CheckState(frameCount: memory.frameCount)
        let keep = checkStrategy != .full
        var watch = ChangeWatch(nil)
        for mm in liveMMs {
            checkWork.mms += 1
            checkMM(mm)
            var records: [UnitRecord] = []
            forEachUnit(mm) { u, spans in
                let rec = addUnit(mm, u, spans, st, &watch)
                if keep { records.append(rec) }
            }
            st.setUnits(mm.index, records)
            checkRSS(mm, st)
        }
        st.recordedMMs = liveMMs.map(\.index)
        checkPins()
        (st.pinRefs, st.pinCounts) = pinReferences()
        for f in files { for p in f.pages where p != 0 { st.pagecache.insert(p) } }
        for range in memory.usedFrameRanges {
            var pfn = range.lowerBound
            while pfn < range.upperBound {
                let fr = memory.frames[pfn]
                guard fr.flags & PageFlag.allocated != 0, fr.flags & PageFlag.head != 0 else {
                    // A free buddy block is skipped whole.
                    pfn += fr.flags & PageFlag.buddy != 0 ? 1 << Int(fr.flags & PageFlag.orderMask) : 1
                    continue
                }
                checkFolio(PFN(pfn), st)
                pfn += memory.nrPages(PFN(pfn))
            }
        }
        var slot = 1
        while slot < swap.slotCount {
            checkSwapSlot(slot, st)
            slot += 1
        }
        return st
    }

    /// Revisits what changed since the last check. Returns false when a full check must
    /// decide (something to report, or a change the record cannot account for); `st` is then
    /// half updated and is discarded.
    private func incrementalCheck(_ st: CheckState) -> Bool {
        probing = true
        probeFound = false
        defer { probing = false }
        var watch = pageSideChanges()
        for i in mmsToRecheck(st) {
            recheckUnits(mms[i], st, &watch)
            if probeFound { return false }
        }
        st.recordedMMs = liveMMs.map(\.index)
        guard !st.pteMaps.inconsistent, watch.unchangedMappingsUnaffected(st) else { return false }
        recheckPagesAndSlots(st, watch)
        return !probeFound
    }

    /// The address spaces whose units may differ from the record, in index order: those
    /// alive now and those the record holds units of (alive at the last check). Any other
    /// was gone before the last check, or came and went since without a record.
    private func mmsToRecheck(_ st: CheckState) -> [Int] {
        let old = st.recordedMMs
        var out: [Int] = []
        out.reserveCapacity(old.count + 1)
        var j = 0
        for mm in liveMMs {
            while j < old.count && old[j] < mm.index { out.append(old[j]); j += 1 }
            if j < old.count && old[j] == mm.index { j += 1 }
            out.append(mm.index)
        }
        out += old[j...]
        return out
    }

    /// Brings `mm`'s units in the record up to date: a unit whose entries did not change is
    /// kept, a changed one is subtracted and added anew, a gone one subtracted (all of them,
    /// if `mm` is gone); then the RSS counters are checked against the record.
    private func recheckUnits(_ mm: MM, _ st: CheckState, _ watch: inout ChangeWatch) {
        checkWork.mms += 1
        let old = mm.index < st.units.count ? st.units[mm.index] : []
        guard mm.alive else {
            for rec in old { subtractUnit(mm, rec, st, &watch) }
            st.setUnits(mm.index, [])
            return
        }
        checkMM(mm)
        var updated: [UnitRecord] = []
        updated.reserveCapacity(old.count)
        var j = 0
        forEachUnit(mm) { u, spans in
            while j < old.count && old[j].addr < u {
                subtractUnit(mm, old[j], st, &watch)
                j += 1
            }
            if j < old.count && old[j].addr == u {
                if unitUnchanged(mm, old[j], spans) {
                    updated.append(old[j])
                    j += 1
                    return
                }
                subtractUnit(mm, old[j], st, &watch)
                j += 1
            }
            updated.append(addUnit(mm, u, spans, st, &watch))
        }
        while j < old.count {
            subtractUnit(mm, old[j], st, &watch)
            j += 1
        }
        st.setUnits(mm.index, updated)
        checkRSS(mm, st)
    }

    /// The page side: pins (marking the folios whose pin counts changed), page cache
    /// additions, then every changed folio and every swap slot written or referred to anew.
    private func recheckPagesAndSlots(_ st: CheckState, _ watch: ChangeWatch) {
        checkPins()
        let (refs, counts) = pinReferences()
        markDifferences(st.pinRefs, refs)
        markDifferences(st.pinCounts, counts)
        (st.pinRefs, st.pinCounts) = (refs, counts)
        for folio in pagecacheAdded { st.pagecache.insert(folio) }

        var last = -1
        memory.takeChangedFrames { pfn in
            guard memory.frames[pfn].flags & PageFlag.allocated != 0 else { return }
            let folio = memory.peekFolio(of: PFN(pfn))
            guard folio.index != last, memory.frames[folio.index].flags & PageFlag.head != 0 else { return }
            last = folio.index
            checkFolio(folio, st)
        }
        var slots = Set(watch.changedSlots)
        if let written = swap.slotsAtLastCheck { slots.formUnion(written.keys) }
        for slot in slots.sorted() where slot > 0 && slot < swap.slotCount { checkSwapSlot(slot, st) }
    }

    /// Marks for the folio pass every folio whose count differs between two tables.
    private func markDifferences(_ old: [UInt32: Int32], _ new: [UInt32: Int32]) {
        for (folio, n) in new where old[folio] != n { memory.markChanged(Int(folio)) }
        for folio in old.keys where new[folio] == nil { memory.markChanged(Int(folio)) }
    }

    private func finishIncrementalCheck() {
        memory.changesChecked()
        tables.checked(tracking: true)
        swap.checked(tracking: true)
        pagecacheAdded = []
    }

    /// Keeps the record of a full check when checks are incremental, and starts noting changes.
    private func finishFullCheck(_ st: CheckState) {
        let tracking = checkStrategy != .full
        guard tracking || checkState != nil else { return }
        checkState = tracking ? st : nil
        memory.checked(tracking: tracking)
        tables.checked(tracking: tracking)
        swap.checked(tracking: tracking)
        pagecacheAdded = []
    }

    // MARK: address spaces

    private func checkMM(_ mm: MM) {
        if mm.writeProtectSeq & 1 != 0 {
            report(.writeProtectSeq, mm, "write_protect_seq is odd (\(mm.writeProtectSeq)) outside fork")
        }
        if !mm.mmapLock.isFree { report(.locksReleased, mm, "mmap_lock still held") }
    }

    private func checkRSS(_ mm: MM, _ st: CheckState) {
        let r = st.rss(mm.index)
        if Int(r.anon) != mm.rssAnon || Int(r.file) != mm.rssFile || Int(r.swap) != mm.rssSwap {
            report(.rssCounters, mm, "MM_ANONPAGES \(mm.rssAnon) (mapped \(r.anon)), MM_FILEPAGES \(mm.rssFile) (mapped \(r.file)), MM_SWAPENTS \(mm.rssSwap) (entries \(r.swap))")
        }
    }

    /// Calls `body` for each 2 MiB unit of `mm` that a VMA overlaps and a PMD table covers,
    /// in address order, with the parts of it each VMA covers. A unit without a PMD table
    /// maps nothing and holds no lock, so it has nothing to check: a sparse mapping costs
    /// what its page tables hold.
    func forEachUnit(_ mm: MM, _ body: (UInt64, [VMASpan]) -> Void) {
        var spans: [VMASpan] = []
        var unit: UInt64 = 0
        for vma in mm.vmas {
            var a = vma.start
            while a < vma.end {
                if !checkWalksEmptyUnits {
                    a = peekSkipToPMDTable(mm, a, vma.end)
                    guard a < vma.end else { break }
                }
                let u = a & ~(Geometry.pmdSize - 1)
                let next = min(u + Geometry.pmdSize, vma.end)
                if !spans.isEmpty && u != unit {
                    body(unit, spans)
                    spans.removeAll(keepingCapacity: true)
                }
                unit = u
                spans.append(VMASpan(start: a, end: next, vma: vma))
                a = next
            }
        }
        if !spans.isEmpty { body(unit, spans) }
    }

    /// Whether a unit reads as it did at the last check: same PMD entry, same table, same
    /// VMA parts, and the table (or the deposited shadow) not written since.
    private func unitUnchanged(_ mm: MM, _ rec: UnitRecord, _ spans: [VMASpan]) -> Bool {
        var pmd: UInt64 = 0, table: Int32 = 0
        if let pmdT = pmdTableID(mm, rec.addr) {
            let e = tables.peekPMDTable(pmdT).entries[VirtualAddress(rec.addr).pmdIndex]
            pmd = e.raw
            table = e.isTable ? e.tableID : (e.isHuge ? tables.peekPMDTable(pmdT).deposited[VirtualAddress(rec.addr).pmdIndex] : 0)
        }
        guard pmd == rec.pmd, table == rec.table, spans.count == rec.moreSpans.count + 1, spans[0].packed == rec.span0 else { return false }
        for k in 1..<spans.count where spans[k].packed != rec.moreSpans[k - 1] { return false }
        return table == 0 || tables.peekPTETable(table).change == .none
    }
}
