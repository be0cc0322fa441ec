/// The invariant checker: one walk over every live address space, then a pass over the
/// memmap, comparing what the page tables say with what the folios count. It runs between
/// operations (a quiescent point: no kernel path is in flight), so it can also demand exact
/// reference balance and released locks. Findings are sorted so that reports are deterministic.
extension World {
    /// Runs every invariant and appends the violations found. Returns how many were new.
    @discardableResult
    public func checkInvariants() -> Int {
        let before = violations.count
        var pteMaps = FrameCounters(memory)
        var pmdMaps: [UInt32: Int32] = [:]
        var mappers: [UInt32: [Int]] = [:]
        var swapRefs: [Int: Int32] = [:]

        for mm in mms where mm.alive {
            if mm.writeProtectSeq & 1 != 0 {
                report(.writeProtectSeq, mm, "write_protect_seq is odd (\(mm.writeProtectSeq)) outside fork")
            }
            if !mm.mmapLock.isFree { report(.locksReleased, mm, "mmap_lock still held") }
            var anon = 0, file = 0, swapEnts = 0
            for vma in mm.vmas {
                var addr = vma.start
                while addr < vma.end {
                    let next = min((addr & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize, vma.end)
                    guard let pmdT = pmdTableID(mm, addr) else { addr = next; continue }
                    if tables.pmd[Int(pmdT)].lockOwner != 0 { report(.locksReleased, mm, addr: addr, "PMD lock still held") }
                    let e = pmdEntry(mm, addr)
                    if e.isHuge {
                        checkHugePMD(mm, vma, addr, e, pmdT, &pmdMaps, &mappers, &anon)
                    } else if e.isTable {
                        let tab = tables.pte[Int(e.tableID)]
                        if tab.ptlOwner != 0 { report(.locksReleased, mm, addr: addr, "PTL still held") }
                        var a = addr
                        while a < next {
                            let i = VirtualAddress(a).pteIndex
                            checkPTE(mm, vma, a, tab, i, &pteMaps, &mappers, &swapRefs, &anon, &file, &swapEnts)
                            a += Geometry.pageSize
                        }
                    }
                    addr = next
                }
            }
            if anon != mm.rssAnon || file != mm.rssFile || swapEnts != mm.rssSwap {
                report(.rssCounters, mm, "MM_ANONPAGES \(mm.rssAnon) (mapped \(anon)), MM_FILEPAGES \(mm.rssFile) (mapped \(file)), MM_SWAPENTS \(mm.rssSwap) (entries \(swapEnts))")
            }
        }
        checkPins()
        checkFolios(pteMaps, pmdMaps, mappers)
        checkSwap(swapRefs)
        return violations.count - before
    }

    private func checkHugePMD(_ mm: MM, _ vma: VMA, _ addr: UInt64, _ e: PMDEntry, _ pmdT: Int32,
                              _ pmdMaps: inout [UInt32: Int32], _ mappers: inout [UInt32: [Int]], _ anon: inout Int) {
        let folio = e.pfn
        guard memory.isAllocated(folio) else {
            report(.noUseAfterFree, mm, addr: addr, folio: folio, "huge PMD maps a freed folio")
            return
        }
        if memory.isZero(folio) {
            if e.isWritable { report(.zeroPageReadOnly, mm, addr: addr, folio: folio, "huge zero PMD is writable") }
        } else {
            pmdMaps[folio.raw, default: 0] += 1
            mappers[folio.raw, default: []].append(mm.index)
            if memory.isAnon(folio) {
                anon += Geometry.ptrsPerTable
                if e.isWritable && !memory.anonExclusive(folio) {
                    report(.writablePTEImpliesExclusive, mm, addr: addr, folio: folio, "writable huge PMD maps a THP whose head is not AE")
                }
            }
        }
        let shadow = tables.pmd[Int(pmdT)].deposited[VirtualAddress(addr).pmdIndex]
        guard shadow != 0, !vma.isShared else { return }
        let tab = tables.pte[Int(shadow)]
        for i in 0..<Geometry.ptrsPerTable {
            let want: UInt32 = tab.isWritten(i) ? tab.expected(i) : 0
            let have = memory.data(folio + i)
            if have != want {
                report(.noLostWrite, mm, addr: addr + UInt64(i) * Geometry.pageSize, folio: folio,
                       "THP page reads \(have), last write stored \(want)")
                return
            }
        }
    }

    private func checkPTE(_ mm: MM, _ vma: VMA, _ a: UInt64, _ tab: PTETable, _ i: Int,
                          _ pteMaps: inout FrameCounters, _ mappers: inout [UInt32: [Int]], _ swapRefs: inout [Int: Int32],
                          _ anon: inout Int, _ file: inout Int, _ swapEnts: inout Int) {
        let p = tab.ptes[i]
        let written = tab.isWritten(i)
        let want: UInt32 = written ? tab.expected(i) : 0
        if p.isNone {
            if written { report(.noLostWrite, mm, addr: a, "address was written (\(want)) but maps nothing") }
            return
        }
        if p.isSwap {
            swapEnts += 1
            let slot = p.swapSlot
            swapRefs[slot, default: 0] += 1
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
        guard memory.isAllocated(page) else {
            report(.noUseAfterFree, mm, addr: a, folio: page, "PTE maps a freed page")
            return
        }
        let folio = memory.folio(of: page)
        if memory.isZero(folio) {
            report(.zeroPageReadOnly, mm, addr: a, folio: folio, "zero page mapped without the special bit")
            return
        }
        pteMaps.add(page)
        if memory.isLarge(folio) {
            if mappers[folio.raw]?.last != mm.index { mappers[folio.raw, default: []].append(mm.index) }
        }
        if memory.isAnon(folio) {
            anon += 1
            if p.isWritable && !memory.anonExclusive(page) {
                report(.writablePTEImpliesExclusive, mm, addr: a, folio: folio, "writable PTE maps \(page), which is not AE")
            }
        } else {
            file += 1
        }
        if !vma.isShared && (written || vma.isAnonymous) && memory.data(page) != want {
            report(.noLostWrite, mm, addr: a, folio: folio, "\(page) holds \(memory.data(page)), last write stored \(want)")
        }
    }

    private func checkPins() {
        for pin in pins where !pin.released {
            let mm = mms[pin.mm]
            if pin.flags.contains(.pin) && !mm.hasPinned {
                report(.hasPinnedSet, mm, addr: pin.addr, "pin \(pin.id) exists but MMF_HAS_PINNED is clear")
            }
            guard pin.flags.contains(.pin) else { continue }
            for (j, page) in pin.pages.enumerated() {
                let folio = memory.folio(of: page)
                guard memory.isAnon(folio), !memory.isZero(folio) else { continue }
                let addr = pin.addr + UInt64(j) * Geometry.pageSize
                let ae = memory.anonExclusive(page) || (memory.isLarge(folio) && memory.anonExclusive(folio))
                if !ae { report(.pinnedPageExclusive, mm, addr: addr, folio: folio, "pin \(pin.id): pinned \(page) is not AE") }
                guard !pin.detached[j], mm.alive else { continue }
                let mapped = mappedPage(mm, addr)
                if mapped != page {
                    report(.pinStaysMapped, mm, addr: addr, folio: folio,
                           "pin \(pin.id): pinned \(page) but the address now maps \(mapped.map { "\($0)" } ?? "nothing")")
                }
            }
        }
    }

    /// The page mapped at `addr` (through a PTE or a huge PMD), nil if none.
    public func mappedPage(_ mm: MM, _ addr: UInt64) -> PFN? {
        let e = pmdEntry(mm, addr)
        if e.isHuge { return e.pfn + VirtualAddress(addr).pteIndex }
        let p = readPTE(mm, addr)
        return p.isPresent ? p.pfn : nil
    }

    private func checkFolios(_ pteMaps: borrowing FrameCounters, _ pmdMaps: [UInt32: Int32], _ mappers: [UInt32: [Int]]) {
        var pinRefs: [UInt32: Int32] = [:]
        var pinCounts: [UInt32: Int32] = [:]
        for pin in pins where !pin.released {
            for page in pin.pages {
                let folio = memory.folio(of: page)
                if memory.isZero(folio) && pin.flags.contains(.pin) { continue }
                if pin.flags.contains(.get) {
                    pinRefs[folio.raw, default: 0] += 1
                } else if memory.isLarge(folio) {
                    pinRefs[folio.raw, default: 0] += 1
                    pinCounts[folio.raw, default: 0] += 1
                } else {
                    pinRefs[folio.raw, default: 0] += gupPinCountingBias
                }
            }
        }
        var pagecache: Set<UInt32> = []
        for f in files { for p in f.pages where p != 0 { pagecache.insert(p) } }

        for range in memory.usedFrameRanges {
        var pfn = range.lowerBound
        while pfn < range.upperBound {
            let fr = memory.frames[pfn]
            guard fr.flags & PageFlag.allocated != 0, fr.flags & PageFlag.head != 0 else {
                // A free buddy block is skipped whole.
                pfn += fr.flags & PageFlag.buddy != 0 ? 1 << Int(fr.flags & PageFlag.orderMask) : 1
                continue
            }
            let folio = PFN(pfn)
            let nr = memory.nrPages(folio)
            defer { pfn += nr }
            if fr.flags & PageFlag.reserved != 0 && fr.flags & PageFlag.zero == 0 { continue }
            if memory.isZero(folio) { continue }
            if fr.flags & PageFlag.locked != 0 { report(.locksReleased, nil, folio: folio, "folio lock still held") }
            var ptes: Int32 = 0, pagesMapped: Int32 = 0
            for k in 0..<nr {
                let page = folio + k
                let seen = pteMaps[page]
                ptes += seen
                if seen > 0 { pagesMapped += 1 }
                if memory.pageMapcount(page) != seen {
                    report(.mapcountMatchesMappings, nil, folio: folio, "\(page): mapcount \(memory.pageMapcount(page)), PTE mappings \(seen)")
                }
                let pmds = pmdMaps[folio.raw] ?? 0
                if memory.anonExclusive(page) && memory.isAnon(folio) && seen + (k == 0 ? pmds : 0) > 1 {
                    report(.exclusivePageMappedOnce, nil, folio: folio, "AE \(page) is mapped \(seen + pmds) times")
                }
            }
            let pmds = pmdMaps[folio.raw] ?? 0
            var expected = ptes + pmds + (pinRefs[folio.raw] ?? 0)
            if memory.test(folio, PageFlag.swapCache) { expected += Int32(nr) }
            if pagecache.contains(folio.raw) { expected += 1 }
            if memory.isLarge(folio) {
                let m = memory.meta(folio)
                if m.largeMapcount != ptes + pmds || m.entireMapcount != pmds || m.nrPagesMapped != pagesMapped {
                    report(.mapcountMatchesMappings, nil, folio: folio,
                           "large mapcount \(m.largeMapcount) (mappings \(ptes + pmds)), entire \(m.entireMapcount) (PMDs \(pmds)), nr_pages_mapped \(m.nrPagesMapped) (pages \(pagesMapped))")
                }
                if m.pincount != (pinCounts[folio.raw] ?? 0) {
                    report(.refcountBalanced, nil, folio: folio, "_pincount \(m.pincount), pins held \(pinCounts[folio.raw] ?? 0)")
                }
                if memory.isAnon(folio) {
                    checkMMIDs(folio, m, mappers[folio.raw] ?? [])
                    if pmds == 0 && pagesMapped > 0 && Int(pagesMapped) < nr && !memory.test(folio, PageFlag.swapCache)
                        && memory.order(of: folio) > 1 && !memory.test(folio, PageFlag.deferredQueued) {
                        report(.deferredSplitQueued, nil, folio: folio, "partially mapped (\(pagesMapped)/\(nr) pages) but not queued")
                    }
                }
            }
            let ref = memory.refcount(folio)
            if ref < expected {
                report(.refcountCoversMappings, nil, folio: folio, "refcount \(ref) < \(expected) (mappings \(ptes + pmds), pins/GUP \(pinRefs[folio.raw] ?? 0))")
            } else if ref > expected {
                report(.refcountBalanced, nil, folio: folio, "refcount \(ref) > \(expected) accounted (mappings \(ptes + pmds), pins/GUP \(pinRefs[folio.raw] ?? 0)): leaked reference")
            }
        }
        }
    }

    /// 6.15 MM-ID tracking: with the shared bit clear and some mapping, one mm maps the folio
    /// and its slot counts every mapping.
    private func checkMMIDs(_ folio: PFN, _ m: LargeFolioMeta, _ mappers: [Int]) {
        guard m.largeMapcount >= 1, !m.maybeMappedShared else { return }
        let distinct = Array(Set(mappers)).sorted()
        let owner = m.mmIdCount0 == m.largeMapcount ? m.mmId0 : (m.mmIdCount1 == m.largeMapcount ? m.mmId1 : 0)
        if distinct.count != 1 || owner != Int32(distinct[0] + 1) {
            report(.mmIDOwner, nil, folio: folio,
                   "shared bit clear, slots (\(m.mmId0):\(m.mmIdCount0), \(m.mmId1):\(m.mmIdCount1)), mapped by \(distinct.map { mms[$0].name })")
        }
    }

    private func checkSwap(_ swapRefs: [Int: Int32]) {
        var slot = 1
        while slot < swap.slotCount {
            let want = swapRefs[slot] ?? 0
            if swap.count[slot] != want {
                report(.swapCount, nil, "swap slot \(slot): count \(swap.count[slot]), swap PTEs \(want)")
            }
            slot += 1
        }
    }
}

/// One counter per frame that may be in use (`PhysicalMemory.usedFrameRanges`): the checker's
/// count of the PTE mappings of each page. A byte per used frame for the length of one check,
/// with the rare counts above 254 in a side table; a dictionary cost twenty times that and
/// most of the check's time.
struct FrameCounters: ~Copyable {
    private let counts: UnsafeMutablePointer<UInt8>
    private var overflow: [Int: Int32] = [:]
    private let lowEnd: Int
    private let highStart: Int
    private let size: Int

    init(_ memory: PhysicalMemory) {
        let ranges = memory.usedFrameRanges
        lowEnd = ranges[0].upperBound
        highStart = ranges.count > 1 ? ranges[1].lowerBound : lowEnd
        size = memory.usedFrameCount
        counts = .allocate(capacity: max(1, size))
        counts.initialize(repeating: 0, count: max(1, size))
    }

    deinit { counts.deallocate() }

    @inline(__always) private func index(_ page: PFN) -> Int? {
        let i = page.index
        if i < lowEnd { return i }
        if i >= highStart, i - highStart + lowEnd < size { return i - highStart + lowEnd }
        return nil
    }

    @inline(__always) mutating func add(_ page: PFN) {
        guard let i = index(page) else { return }
        if counts[i] < 255 { counts[i] += 1 } else { overflow[i, default: 255] += 1 }
    }

    @inline(__always) subscript(_ page: PFN) -> Int32 {
        guard let i = index(page) else { return 0 }
        let c = counts[i]
        return c < 255 ? Int32(c) : overflow[i] ?? 255
    }
}
