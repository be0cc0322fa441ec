/// The model's state object by object: every piece of shared state a footprint can name
/// (`PointObject`), with a hash of its value. Two worlds hold the same state exactly when
/// their lists are equal; where they differ, the keys name the objects. The commutativity
/// audit compares the worlds that two orders of two steps leave; only objects that hold
/// something are listed (an empty PTE, a free frame, an unused slot are left out).
///
/// Instrumentation: reads the model unlogged.
extension World {
    /// (object key, value hash) for every object that holds something, sorted by key.
    func stateObjects() -> [(key: UInt64, value: UInt64)] {
        var out: [(key: UInt64, value: UInt64)] = []
        func add(_ o: PointObject, _ parts: UInt64...) {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for p in parts { h = (h ^ p) &* 0x100_0000_01B3 }
            out.append((o.key, h))
        }
        // Frames: each page's own state, each folio's counts and flags, the lock bit.
        let pageBits = PageFlag.anonExclusive | PageFlag.allocated | PageFlag.head | PageFlag.buddy | PageFlag.orderMask
        for range in memory.usedFrameRanges {
            for pfn in range {
                let f = memory.frames[pfn]
                guard f.flags & PageFlag.allocated != 0 else { continue }
                add(.page(PFN(pfn)), UInt64(f.flags & pageBits), UInt64(UInt32(bitPattern: f.map)), UInt64(f.data))
                if f.flags & PageFlag.locked != 0 { add(.folioLock(PFN(pfn)), 1) }
                guard f.flags & PageFlag.head != 0 else { continue }
                var parts = [UInt64(UInt32(bitPattern: f.ref)), UInt64(f.flags & ~(pageBits | PageFlag.locked))]
                if f.flags & PageFlag.orderMask != 0 {
                    let m = memory.peekMeta(PFN(pfn))
                    parts += [m.largeMapcount, m.entireMapcount, m.pincount, m.nrPagesMapped, m.mmId0, m.mmId1,
                              m.mmIdCount0, m.mmIdCount1].map { UInt64(UInt32(bitPattern: $0)) } + [m.maybeMappedShared ? 1 : 0]
                }
                if let slot = swap.peekSlot(of: PFN(pfn)) { parts.append(UInt64(slot) | 1 << 40) }
                var h: UInt64 = 0xCBF2_9CE4_8422_2325
                for p in parts { h = (h ^ p) &* 0x100_0000_01B3 }
                out.append((PointObject.folio(PFN(pfn)).key, h))
            }
        }
        // Page tables: entries, deposited tables, lock owners.
        for (id, t) in tables.peekPTETables.enumerated() where t.inUse {
            let table = Int32(id)
            for i in 0..<Geometry.ptrsPerTable where !t.ptes[i].isNone { add(.pte(PTESlot(table: table, index: i)), t.ptes[i].raw) }
            if t.ptlOwner != 0 { add(.ptl(table: table), UInt64(t.ptlOwner)) }
        }
        for id in 1..<tables.pmdTableCount {
            let t = tables.peekPMDTable(Int32(id))
            guard t.inUse else { continue }
            for i in 0..<Geometry.ptrsPerTable where !t.entries[i].isNone || t.deposited[i] != 0 {
                add(.pmd(table: Int32(id), index: i), t.entries[i].raw, UInt64(UInt32(bitPattern: t.deposited[i])))
            }
            if t.lockOwner != 0 { add(.pmdLock(table: Int32(id)), UInt64(t.lockOwner)) }
        }
        // Address spaces.
        for mm in mms {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for v in mm.peekVMAs {
                for p in [v.start, v.end, UInt64(v.flags.rawValue), v.pgoff, UInt64(UInt32(bitPattern: v.anonVMA)), UInt64(UInt32(bitPattern: v.id))] {
                    h = (h ^ p) &* 0x100_0000_01B3
                }
                switch v.backing {
                case .anonymous: h = (h ^ 1) &* 0x100_0000_01B3
                case .file(let f): h = (h ^ UInt64(f + 2)) &* 0x100_0000_01B3
                }
            }
            out.append((PointObject.vmas(mm: mm.index).key, h))
            add(.mmFlags(mm: mm.index), mm.peekHasPinned ? 1 : 0, mm.disableTHPFlagPeek ? 1 : 0)
            add(.seqcount(mm: mm.index), UInt64(mm.peekWriteProtectSeq))
            add(.mmapLock(mm: mm.index), UInt64(mm.mmapLock.readers), UInt64(mm.mmapLock.writer))
            add(.tableFree(mm: mm.index), UInt64(mm.gupFastWalkers))
        }
        add(.processes, UInt64(mms.count), UInt64(mms.filter(\.peekAlive).count), UInt64(files.count))
        add(.anonVMAIds, UInt64(nextAnonVMA))
        // Swap, pins, queues, pagecache.
        for s in 1..<max(swap.slotCount, 1) {
            let st = swap.state(s)
            if st.count != 0 || st.cache != 0 || st.data != 0 { add(.swapSlot(s), UInt64(UInt32(bitPattern: st.count)), UInt64(st.cache), UInt64(st.data)) }
        }
        add(.swapAllocator, UInt64(swap.peekUsedSlots))
        var pinHash: UInt64 = 0xCBF2_9CE4_8422_2325
        for p in pins {
            for v in [UInt64(p.mm), p.addr, UInt64(p.flags.rawValue), p.released ? 1 : 0] + p.pages.map({ UInt64($0.raw) }) {
                pinHash = (pinHash ^ v) &* 0x100_0000_01B3
            }
        }
        out.append((PointObject.pinTable.key, pinHash))
        for t in threads where !t.gupKept.isEmpty {
            add(.pins(PFN(0)), UInt64(t.id), UInt64(t.gupKept.count))
        }
        add(.deferredSplit, UInt64(deferredSplitQueuePeek.count))
        for (i, f) in files.enumerated() {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for p in f.pages { h = (h ^ UInt64(p)) &* 0x100_0000_01B3 }
            out.append((PointObject.pagecache(file: i).key, h))
        }
        out.sort { $0.key < $1.key }
        return out
    }

    /// The objects whose state differs between two `stateObjects` lists.
    static func differingObjects(_ a: [(key: UInt64, value: UInt64)], _ b: [(key: UInt64, value: UInt64)]) -> [UInt64] {
        var out: [UInt64] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].key < b[j].key) {
                out.append(a[i].key); i += 1
            } else if i == a.count || b[j].key < a[i].key {
                out.append(b[j].key); j += 1
            } else {
                if a[i].value != b[j].value { out.append(a[i].key) }
                i += 1; j += 1
            }
        }
        return out
    }
}
