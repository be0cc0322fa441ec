/// The invariants that hold after every scheduling step, checked on what the step changed
/// (the PTE slots and folios in the `AccessLog`), so a check costs time in proportion to
/// the step, not to simulated memory. The at-rest invariants (balanced counts, released
/// locks, no lost write, pin coherency) are `checkInvariants`, run when no operation is in
/// flight.
extension World {
    package func checkStep(_ log: AccessLog) {
        if log.ptesWritten.isEmpty && log.foliosWritten.isEmpty && log.useAfterFree.isEmpty { return }
        log.enabled = false
        defer { log.enabled = true }
        for (page, what) in log.useAfterFree {
            report(.useAfterFree, nil, folio: page, what)
        }
        forEachDistinct(log.ptesWritten) { slot in
            let p = tables.peekPTETable(slot.table).ptes[slot.index]
            guard p.isPresent, !p.isSpecial else { return }
            let page = p.pfn
            guard memory.isAllocated(page) else {
                report(.noUseAfterFree, nil, folio: page, "PTE \(describe(slot)) maps a freed page")
                return
            }
            let folio = memory.folio(of: page)
            if p.isWritable && memory.isAnon(folio) && !memory.anonExclusive(page) {
                report(.writablePTEImpliesExclusive, nil, folio: folio, "writable PTE \(describe(slot)) maps \(page), which is not AE")
            }
        }
        forEachDistinct(log.foliosWritten) { f in
            guard memory.isAllocated(f) else { return }
            checkFolioCounts(memory.folio(of: f))
        }
        checkPinnedExclusive(log.foliosWritten)
    }

    /// Calls `body` once per distinct element: a quadratic scan without allocation for the
    /// few a step usually touches, a sort for many.
    private func forEachDistinct<T: Comparable>(_ xs: [T], _ body: (T) -> Void) {
        if xs.count <= 16 {
            for i in xs.indices where !xs[..<i].contains(xs[i]) { body(xs[i]) }
        } else {
            var last: T?
            for x in xs.sorted() where last != x {
                body(x)
                last = x
            }
        }
    }

    private func checkFolioCounts(_ folio: PFN) {
        if memory.isZero(folio) { return }
        if memory.refcount(folio) < 0 {
            report(.countsNonNegative, nil, folio: folio, "refcount \(memory.refcount(folio))")
        }
        let nr = memory.nrPages(folio)
        let large = memory.isLarge(folio)
        let entire = large ? memory.meta(folio).entireMapcount : 0
        if large {
            let m = memory.meta(folio)
            if m.largeMapcount < 0 || m.entireMapcount < 0 || m.pincount < 0 || m.nrPagesMapped < 0 {
                report(.countsNonNegative, nil, folio: folio,
                       "large mapcount \(m.largeMapcount), entire \(m.entireMapcount), pincount \(m.pincount), nr_pages_mapped \(m.nrPagesMapped)")
            }
        }
        let anon = memory.isAnon(folio)
        for k in 0..<nr {
            let page = folio + k
            let map = memory.pageMapcount(page)
            if map < 0 { report(.countsNonNegative, nil, folio: folio, "\(page): mapcount \(map)") }
            if anon && memory.anonExclusive(page) && map + (k == 0 ? entire : 0) > 1 {
                report(.exclusivePageMappedOnce, nil, folio: folio, "AE \(page) is mapped \(map + (k == 0 ? entire : 0)) times")
            }
        }
    }

    /// `process addr` of a PTE slot, found by walking the live address spaces (only used
    /// when reporting).
    func describe(_ slot: PTESlot) -> String {
        for mm in liveMMs {
            for vma in mm.vmas {
                var a = vma.start & ~(Geometry.pmdSize - 1)
                while a < vma.end {
                    a = peekSkipToPMDTable(mm, a, vma.end)
                    guard a < vma.end else { break }
                    if let s = pteSlot(mm, a), s.table == slot.table {
                        let addr = (a & ~(Geometry.pmdSize - 1)) + UInt64(slot.index) * Geometry.pageSize
                        return "\(mm.name) \(VirtualAddress(addr))"
                    }
                    a += Geometry.pmdSize
                }
            }
        }
        return "table \(slot.table)[\(slot.index)]"
    }
}

extension World {
    /// A digest of what user space can observe at the end of a run: for every live process
    /// and mapped page, whether it is mapped, writable, which page (numbered in order of first
    /// appearance, so allocation order does not matter) and its data; plus the pins held.
    package func endStateDigest() -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x100_0000_01B3 }
        var ids: [UInt32: UInt64] = [:]
        func id(_ p: PFN) -> UInt64 {
            if let i = ids[p.raw] { return i }
            let i = UInt64(ids.count + 1)
            ids[p.raw] = i
            return i
        }
        for mm in mms where mm.alive {
            mix(UInt64(mm.index) | 1 << 40)
            for vma in mm.vmas {
                var a = vma.start
                while a < vma.end {
                    a = skipToPMDTable(mm, a, vma.end)
                    guard a < vma.end else { break }
                    if let page = mappedPage(mm, a) {
                        let w = pmdEntry(mm, a).isHuge ? pmdEntry(mm, a).isWritable : readPTE(mm, a).isWritable
                        mix(a); mix(page == memory.zeroPFN ? 0 : id(page)); mix(UInt64(memory.data(page))); mix(w ? 1 : 2)
                    } else if readPTE(mm, a).isSwap {
                        mix(a); mix(3)
                    }
                    a += Geometry.pageSize
                }
            }
        }
        for pin in pins where !pin.released {
            for p in pin.pages { mix(id(p)); mix(UInt64(memory.data(p))) }
        }
        return h
    }
}
