/// The model's state object by object: every piece of shared state a footprint can name
/// (`PointObject`), with a hash of its value. Two worlds hold the same state exactly when
/// their lists are equal; where they differ, the keys name the objects. The commutativity
/// audit compares the worlds that two orders of two steps leave, and the explorer's state
/// cache hashes the same objects (`StateHasher`) under canonical names; only objects that
/// hold something are listed (an empty PTE, a free frame, an unused slot are left out).
///
/// Some footprint objects are parts of a larger value here (`valueKey`): the pins on one
/// folio belong to the pin table. A per-VMA lock's own value is its readers; which VMAs the
/// mmap_lock writer has write-locked is part of the mmap_lock's value, because
/// `mmap_write_unlock` ends those locks recording only the mmap_lock.
///
/// Instrumentation: reads the model unlogged.
extension World {
    /// (object key, value hash) for every object that holds something, sorted by key, with
    /// frames and swap slots under their own numbers; then, for each thread with a GUP call
    /// in flight, the pages it has kept.
    package func stateObjects() -> [(key: UInt64, value: UInt64)] {
        var out: [(key: UInt64, value: UInt64)] = []
        for k in stateKeys() { if let v = objectValue(k, .identity) { out.append((k, v)) } }
        for t in threads where !t.gupKept.isEmpty {
            out.append((PointObject.pins(PFN(0)).key, StateFold.of([UInt64(t.id)] + t.gupKept.map { UInt64($0.page.raw) })))
        }
        out.sort { $0.key < $1.key }
        return out
    }

    /// The key of the value a footprint object is part of (nil: the object holds no value of
    /// its own: the "table has entries" summaries, operation boundaries).
    package static func valueKey(_ key: UInt64) -> UInt64? {
        switch key >> 56 {
        case 9, 10: return key & 1023 >= 512 ? nil : key
        case 14: return PointObject.pinTable.key
        case 25, 0xFF: return nil
        default: return key
        }
    }

    /// Every object that may hold something (value keys only, unsorted).
    package func stateKeys() -> [UInt64] {
        var out: [UInt64] = []
        for range in memory.usedFrameRanges {
            for pfn in range {
                let f = memory.frames[pfn]
                guard f.flags & PageFlag.allocated != 0 else { continue }
                out.append(PointObject.page(PFN(pfn)).key)
                if f.flags & PageFlag.locked != 0 { out.append(PointObject.folioLock(PFN(pfn)).key) }
                if f.flags & PageFlag.head != 0 { out.append(PointObject.folio(PFN(pfn)).key) }
            }
        }
        for (id, t) in tables.peekPTETables.enumerated() where t.inUse {
            for i in 0..<Geometry.ptrsPerTable where !t.ptes[i].isNone { out.append(PointObject.pte(PTESlot(table: Int32(id), index: i)).key) }
            if t.ptlOwner != 0 { out.append(PointObject.ptl(table: Int32(id)).key) }
        }
        for id in 1..<max(1, tables.pmdTableCount) {
            let t = tables.peekPMDTable(Int32(id))
            guard t.inUse else { continue }
            for i in 0..<Geometry.ptrsPerTable where !t.entries[i].isNone || t.deposited[i] != 0 {
                out.append(PointObject.pmd(table: Int32(id), index: i).key)
            }
            if t.lockOwner != 0 { out.append(PointObject.pmdLock(table: Int32(id)).key) }
        }
        for id in 1..<max(1, tables.upperTableCount) {
            let t = tables.peekUpperTable(Int32(id))
            guard t.inUse else { continue }
            for i in 0..<Geometry.ptrsPerTable where t.entries[i] != 0 { out.append(PointObject.upper(table: Int32(id), index: i).key) }
        }
        for mm in mms {
            out += World.mmObjectKeys(mm.index)
            for (id, readers, _) in mm.peekVMALocks where readers != 0 { out.append(PointObject.vmaLock(mm: mm.index, vma: id).key) }
        }
        for o in [PointObject.processes, .anonVMAIds, .swapAllocator, .pinTable, .deferredSplit, .allocator, .tableAllocator] {
            out.append(o.key)
        }
        for s in 1..<max(swap.slotCount, 1) {
            let st = swap.state(s)
            if st.count != 0 || st.cache != 0 || st.data != 0 { out.append(PointObject.swapSlot(s).key) }
        }
        for i in files.indices { out.append(PointObject.pagecache(file: i).key) }
        return out
    }

    /// The objects every mm has from fork or creation on.
    package static func mmObjectKeys(_ mm: Int) -> [UInt64] {
        [PointObject.vmas(mm: mm), .mmFlags(mm: mm), .seqcount(mm: mm), .mmapLock(mm: mm), .tableFree(mm: mm)].map(\.key)
    }

    /// A hash of what object `key` (a value key) holds, with frames and swap slots hashed
    /// under `names`; nil when it holds nothing.
    package func objectValue(_ key: UInt64, _ names: StateNames) -> UInt64? {
        let payload = key & ((1 << 56) - 1)
        let low32 = Int32(bitPattern: UInt32(truncatingIfNeeded: payload))
        switch key >> 56 {
        case 1: return mmLockValue(mms[Int(payload)])
        case 2:
            let r = mms[Int(payload >> 32)].peekVMAReaders(low32)
            return r == 0 ? nil : UInt64(r)
        case 3:
            let t = tables.peekPTETable(low32)
            return t.inUse && t.ptlOwner != 0 ? UInt64(t.ptlOwner) : nil
        case 4:
            let t = tables.peekPMDTable(low32)
            return t.inUse && t.lockOwner != 0 ? UInt64(t.lockOwner) : nil
        case 5: return memory.frames[Int(payload)].flags & PageFlag.locked != 0 ? 1 : nil
        case 6: return folioValue(Int(payload), names)
        case 7:
            let f = memory.frames[Int(payload)]
            guard f.flags & PageFlag.allocated != 0 else { return nil }
            return StateFold.of([UInt64(f.flags & World.pageBits), UInt64(UInt32(bitPattern: f.map)), UInt64(f.data)])
        case 8:
            let t = tables.peekPTETable(Int32(truncatingIfNeeded: payload >> 9))
            let e = t.ptes[Int(payload & 511)]
            return t.inUse && !e.isNone ? World.pteValue(e, names) : nil
        case 9:
            let t = tables.peekPMDTable(Int32(truncatingIfNeeded: payload >> 10))
            let i = Int(payload & 1023)
            guard t.inUse, !t.entries[i].isNone || t.deposited[i] != 0 else { return nil }
            return StateFold.of([pmdValue(t.entries[i], names), t.deposited[i] == 0 ? 0 : names.frame(tables.peekPTETable(t.deposited[i]).backing.raw)])
        case 10:
            let table = Int32(truncatingIfNeeded: payload >> 10)
            let t = tables.peekUpperTable(table)
            let child = t.entries[Int(payload & 1023)]
            guard t.inUse, child != 0 else { return nil }
            let isPGD = mms.contains { $0.pgd == table }
            return names.frame(isPGD ? tables.peekUpperTable(child).backing.raw : tables.peekPMDTable(child).backing.raw)
        case 11: return UInt64(mms[Int(payload)].peekWriteProtectSeq)
        case 12:
            let mm = mms[Int(payload)]
            return StateFold.of([mm.peekHasPinned ? 1 : 0, mm.disableTHPFlagPeek ? 1 : 0])
        case 13: return vmasValue(mms[Int(payload)])
        case 15: return pinTableValue(names)
        case 16: return StateFold.of([UInt64(memory.freePages)] + (0...Geometry.maxOrder).map { UInt64(memory.peekFreeBlocks($0)) })
        case 17: return UInt64(tables.tablesInUse)
        case 18:
            let st = swap.state(Int(payload))
            guard st.count != 0 || st.cache != 0 || st.data != 0 else { return nil }
            return StateFold.of([UInt64(UInt32(bitPattern: st.count)), st.cache == 0 ? 0 : names.frame(st.cache), UInt64(st.data)])
        case 19: return UInt64(swap.peekUsedSlots)
        case 20: return StateFold.of(deferredSplitQueuePeek.map { names.frame($0.raw) })
        case 21: return StateFold.of(files[Int(payload)].pages.map { $0 == 0 ? 0 : names.frame($0) })
        case 22: return StateFold.of([UInt64(mms.count), UInt64(mms.filter(\.peekAlive).count), UInt64(files.count)])
        case 23: return UInt64(nextAnonVMA)
        case 24: return UInt64(mms[Int(payload)].gupFastWalkers)
        default: return nil
        }
    }

    /// The key that names object `key` whatever frames or swap slots a run picked: a frame's
    /// objects by the frame's name, a page table's by the name of the frame that backs it.
    package func canonicalKey(_ key: UInt64, _ names: StateNames) -> UInt64 {
        let payload = key & ((1 << 56) - 1)
        let kind = key >> 56
        func pteTable(_ id: UInt64) -> UInt64 { names.frame(tables.peekPTETable(Int32(truncatingIfNeeded: id)).backing.raw) }
        func pmdTable(_ id: UInt64) -> UInt64 { names.frame(tables.peekPMDTable(Int32(truncatingIfNeeded: id)).backing.raw) }
        let id: UInt64
        switch kind {
        case 3: id = pteTable(payload)
        case 4: id = pmdTable(payload)
        case 5, 6, 7: id = names.frame(UInt32(truncatingIfNeeded: payload))
        case 8: id = StateFold.of([pteTable(payload >> 9), payload & 511])
        case 9: id = StateFold.of([pmdTable(payload >> 10), payload & 1023])
        case 10: id = StateFold.of([names.frame(tables.peekUpperTable(Int32(truncatingIfNeeded: payload >> 10)).backing.raw), payload & 1023])
        case 18: id = names.slot(Int(payload))
        default: return key
        }
        return StateFold.mix(kind << 56 ^ id)
    }

    static let pageBits = PageFlag.anonExclusive | PageFlag.allocated | PageFlag.head | PageFlag.buddy | PageFlag.orderMask

    private func folioValue(_ pfn: Int, _ names: StateNames) -> UInt64? {
        let f = memory.frames[pfn]
        guard f.flags & PageFlag.allocated != 0, f.flags & PageFlag.head != 0 else { return nil }
        var parts = [UInt64(UInt32(bitPattern: f.ref)), UInt64(f.flags & ~(World.pageBits | PageFlag.locked))]
        if f.flags & PageFlag.orderMask != 0 {
            let m = memory.peekMeta(PFN(pfn))
            parts += [m.largeMapcount, m.entireMapcount, m.pincount, m.nrPagesMapped, m.mmId0, m.mmId1,
                      m.mmIdCount0, m.mmIdCount1].map { UInt64(UInt32(bitPattern: $0)) } + [m.maybeMappedShared ? 1 : 0]
        }
        if let slot = swap.peekSlot(of: PFN(pfn)) { parts.append(names.slot(slot) | 1 << 40) }
        return StateFold.of(parts)
    }

    /// A PTE with the frame or swap slot it points to under its name.
    static func pteValue(_ e: PTE, _ names: StateNames) -> UInt64 {
        let low = e.raw & ((1 << PTE.pfnShift) - 1)
        if e.isPresent { return StateFold.of([low, names.frame(e.pfn.raw)]) }
        if e.isSwap { return StateFold.of([low, names.slot(e.swapSlot)]) }
        if e.kind == .marker { return e.raw }
        return StateFold.of([low, names.frame(e.pfn.raw)])
    }

    private func pmdValue(_ e: PMDEntry, _ names: StateNames) -> UInt64 {
        let low = e.raw & ((1 << PMDEntry.shift) - 1)
        if e.isNone { return 0 }
        if e.isTable { return StateFold.of([low, names.frame(tables.peekPTETable(e.tableID).backing.raw)]) }
        return StateFold.of([low, names.frame(e.pfn.raw)])
    }

    private func mmLockValue(_ mm: MM) -> UInt64 {
        StateFold.of([UInt64(mm.mmapLock.readers), UInt64(mm.mmapLock.writer), vmaWriteLocks(mm)])
    }

    /// Which VMAs of `mm` the mmap_lock writer has write-locked: all that a thread learns
    /// when it reads the mmap_lock without taking it (`vma_start_read`'s sequence check).
    package func vmaWriteLocks(_ mm: MM) -> UInt64 {
        StateFold.of(mm.peekVMALocks.filter(\.2).map { UInt64($0.0) })
    }

    private func vmasValue(_ mm: MM) -> UInt64 {
        var parts: [UInt64] = []
        for v in mm.peekVMAs {
            parts += [v.start, v.end, UInt64(v.flags.rawValue), v.pgoff, UInt64(UInt32(bitPattern: v.anonVMA)), UInt64(UInt32(bitPattern: v.id)),
                      v.anonVMAInherited ? 1 : 0]
            switch v.backing {
            case .anonymous: parts.append(1)
            case .file(let f): parts.append(UInt64(f + 2))
            }
        }
        return StateFold.of(parts)
    }

    private func pinTableValue(_ names: StateNames) -> UInt64 {
        var parts: [UInt64] = []
        for p in pins {
            parts += [UInt64(p.mm), p.addr, UInt64(p.flags.rawValue), p.released ? 1 : 0, UInt64(p.pages.count)]
            if names.clocks { parts += [UInt64(p.since), UInt64(p.registered)] }
            parts += p.pages.map { names.frame($0.raw) }
        }
        return StateFold.of(parts)
    }

    /// The objects whose state differs between two `stateObjects` lists.
    package static func differingObjects(_ a: [(key: UInt64, value: UInt64)], _ b: [(key: UInt64, value: UInt64)]) -> [UInt64] {
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

/// How a state hash names frames and swap slots: by number, except those given a name (by
/// who allocated them in an explored run, `StateHasher`), so that two runs that allocate in
/// a different order and end alike hash alike.
package final class StateNames {
    /// Whether pins carry their user-activity clock values (`since`, `registered`): checker
    /// bookkeeping, which two orders of two operation ends set differently although the
    /// checks decide alike (UserActivity). The state hash keeps them (a finer state is still
    /// sound); the commutativity audit, which compares model state, leaves them out.
    let clocks: Bool
    package init(clocks: Bool = false) { self.clocks = clocks }
    package var frames: [UInt32: UInt64] = [:]
    package var slots: [Int: UInt64] = [:]
    @inline(__always) func frame(_ pfn: UInt32) -> UInt64 { frames.isEmpty ? UInt64(pfn) : frames[pfn] ?? UInt64(pfn) }
    @inline(__always) func slot(_ s: Int) -> UInt64 { slots.isEmpty ? UInt64(s) : slots[s] ?? UInt64(s) }
    /// Every frame and slot by its number.
    static var identity: StateNames { StateNames() }
}

/// The hash functions of the state objects.
package enum StateFold {
    /// SplitMix64's finaliser: a bijection that spreads every input bit.
    @inline(__always) package static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// An order-sensitive hash of a sequence.
    package static func of(_ parts: [UInt64]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for p in parts { h = mix(h ^ p) }
        return h
    }
}
