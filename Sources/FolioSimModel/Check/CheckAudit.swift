/// The audit of the incremental checker (`CheckStrategy.audit`, used by tests): after every
/// check it keeps a copy of the frames, large-folio counts, PTE tables, swap slots and
/// pagecache; at the next check every difference must have been noted as a change, with the
/// state it had at the last check, and the incremental check's record must equal the one the
/// full check builds. Each disagreement is a line in `auditFailures`.
struct CheckAuditSnapshot {
    /// The used frames, range by range.
    var frames: [(range: Range<Int>, frames: [Frame])]
    var large: [LargeFolioMeta]
    var entries: [[PTE]]
    var shadows: [[UInt32?]]
    var slots: [SwapDevice.SlotState]
    var pagecache: Set<UInt32>
}

extension World {
    func takeAuditSnapshot() -> CheckAuditSnapshot {
        CheckAuditSnapshot(
            frames: memory.usedFrameRanges.map { ($0, Array(UnsafeBufferPointer(start: memory.frames + $0.lowerBound, count: $0.count))) },
            large: memory.peekLarge,
            entries: tables.peekPTETables.map { Array(UnsafeBufferPointer(start: $0.ptes, count: Geometry.ptrsPerTable)) },
            shadows: tables.peekPTETables.indices.map { id in
                (0..<Geometry.ptrsPerTable).map { shadow.isWritten(Int32(id), $0) ? shadow.expected(Int32(id), $0) : nil }
            },
            slots: (0..<swap.slotCount).map { swap.state($0) },
            pagecache: Set(files.flatMap { $0.pages.filter { $0 != 0 } }))
    }

    private func auditFail(_ s: String) { auditFailures.append("\(operation.description): \(s)") }

    /// Every change since the last check was noted, with the state it had then.
    func auditChangeMarks() {
        guard let snap = auditSnapshot, checkState != nil, !memory.changesOverflowed else { return }
        var logged: [Int: Frame] = [:]
        for (pfn, f) in memory.framesAtLastCheck where logged[Int(pfn)] == nil { logged[Int(pfn)] = f }
        for (range, frames) in snap.frames {
          for pfn in range {
            let was = frames[pfn - range.lowerBound], now = memory.frames[pfn]
            let wasInUse = was.flags & PageFlag.allocated != 0
            if memory.isChanged(pfn) {
                if wasInUse && logged[pfn] != was {
                    auditFail("frame \(pfn) changed but its state at the last check was not kept")
                }
            } else if was != now && (wasInUse || now.flags & PageFlag.allocated != 0) {
                auditFail("frame \(pfn) changed without a note")
            }
            if wasInUse && now.flags & PageFlag.head != 0 && now.flags & PageFlag.orderMask != 0 && !memory.isChanged(pfn) {
                let idx = memory.peekMetaIndex(PFN(pfn))
                if idx < snap.large.count && snap.large[idx] != memory.peekLarge[idx] {
                    auditFail("large-folio counts of \(pfn) changed without a note")
                }
            }
          }
        }
        for id in 1..<min(snap.entries.count, tables.pteTableCount) {
            let t = tables.peekPTETables[id]
            let same = (0..<Geometry.ptrsPerTable).allSatisfy {
                t.ptes[$0] == snap.entries[id][$0]
                    && (shadow.isWritten(Int32(id), $0) ? shadow.expected(Int32(id), $0) : nil) == snap.shadows[id][$0]
            }
            switch t.change {
            case .none: if !same { auditFail("PTE table \(id) changed without a note") }
            case .written:
                if let old = t.entriesAtLastCheck, (0..<Geometry.ptrsPerTable).allSatisfy({ old[$0] == snap.entries[id][$0] }) { break }
                auditFail("PTE table \(id) changed but its entries at the last check were not kept")
            case .wasEmpty:
                if !snap.entries[id].allSatisfy(\.isNone) { auditFail("PTE table \(id) said empty at the last check, was not") }
            }
        }
        let written = swap.slotsAtLastCheck ?? [:]
        for slot in 0..<swap.slotCount {
            if let old = written[slot] {
                if old != snap.slots[slot] { auditFail("swap slot \(slot) changed but its state at the last check was not kept") }
            } else if swap.state(slot) != snap.slots[slot] {
                auditFail("swap slot \(slot) changed without a note")
            }
        }
        let cached = Set(files.flatMap { $0.pages.filter { $0 != 0 } })
        for folio in cached.subtracting(snap.pagecache) where !pagecacheAdded.contains(folio) {
            auditFail("pagecache folio \(folio) added without a note")
        }
    }

    /// The incremental check reported nothing only if the full check finds nothing new, and
    /// its updated record equals the full check's.
    func auditAgreement(incremental: CheckState?, fresh: CheckState, found: Int) {
        defer { auditSnapshot = takeAuditSnapshot() }
        guard let inc = incremental else { return }
        if found > 0 {
            auditFail("incremental check passed, the full check found \(violations.suffix(found).map(\.invariant))")
        }
        for range in memory.usedFrameRanges {
            for pfn in range where inc.pteMaps[PFN(pfn)] != fresh.pteMaps[PFN(pfn)] {
                auditFail("PTE mappings of pfn \(pfn): incremental \(inc.pteMaps[PFN(pfn)]), full \(fresh.pteMaps[PFN(pfn)])")
            }
        }
        if inc.pmdMaps != fresh.pmdMaps { auditFail("PMD mappings differ: \(inc.pmdMaps) vs \(fresh.pmdMaps)") }
        if inc.mappers != fresh.mappers { auditFail("large-folio mappers differ: \(inc.mappers) vs \(fresh.mappers)") }
        if inc.swapRefs != fresh.swapRefs { auditFail("swap references differ: \(inc.swapRefs) vs \(fresh.swapRefs)") }
        if inc.pinRefs != fresh.pinRefs || inc.pinCounts != fresh.pinCounts { auditFail("pin references differ") }
        if inc.pagecache != fresh.pagecache { auditFail("pagecache differs") }
        for mm in mms {
            let a = mm.index < inc.units.count ? inc.units[mm.index] : []
            let b = mm.index < fresh.units.count ? fresh.units[mm.index] : []
            if a != b { auditFail("unit records of \(mm.name) differ") }
            if mm.alive && inc.rss(mm.index) != fresh.rss(mm.index) { auditFail("RSS of \(mm.name) differs") }
        }
    }
}
