/// Protection bits of mmap/mprotect.
package struct Prot: OptionSet, Hashable, Sendable {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }
    package static let read = Prot(rawValue: 1)
    package static let write = Prot(rawValue: 2)
    package static let exec = Prot(rawValue: 4)
    package static let none: Prot = []
}

/// What an mmap creates.
package enum MapKind: Hashable, Sendable {
    case privateAnon
    case privateFile(file: Int, pgoff: UInt64)
    case sharedFile(file: Int, pgoff: UInt64)
}

/// Errors of the memory-management syscalls (negative errno in the kernel).
package enum MMError: Error, Equatable, Sendable, CustomStringConvertible {
    case einval(String), enomem(String), eexist(String), efault(String), eperm(String), ebusy(String)
    package var description: String {
        switch self {
        case .einval(let s): "EINVAL: \(s)"
        case .enomem(let s): "ENOMEM: \(s)"
        case .eexist(let s): "EEXIST: \(s)"
        case .efault(let s): "EFAULT: \(s)"
        case .eperm(let s): "EPERM: \(s)"
        case .ebusy(let s): "EBUSY: \(s)"
        }
    }
}

/// mmap, munmap and mremap (mm/mmap.c, mm/vma.c, mm/mremap.c) at the level of VMAs and page
/// tables, with the merge of a new VMA into its neighbours. Left out: address-space layout
/// (every mapping is MAP_FIXED), accounting limits, mremap's own shrinking (a munmap does it),
/// mempolicies, userfaultfd contexts and anon VMA names in the merge rules.
extension World {
    /// `vm_flags` for a new mapping (`calc_vm_prot_bits` + `calc_vm_flag_bits`).
    func vmFlags(_ prot: Prot, shared: Bool) -> VMFlags {
        var f: VMFlags = [.mayRead, .mayWrite, .mayExec, .softDirty]
        if prot.contains(.read) { f.insert(.read) }
        if prot.contains(.write) { f.insert(.write) }
        if prot.contains(.exec) { f.insert(.exec) }
        if shared { f.formUnion([.shared, .mayShare]) }
        return f
    }

    func checkRange(_ start: UInt64, _ size: UInt64) throws(MMError) {
        guard start & (Geometry.pageSize - 1) == 0 else { throw .einval("address 0x\(String(start, radix: 16)) is not page aligned") }
        guard size > 0, size & (Geometry.pageSize - 1) == 0 else { throw .einval("length \(size) is not a positive multiple of 4096") }
        guard start.addingReportingOverflow(size).partialValue <= Geometry.taskSize, !start.addingReportingOverflow(size).overflow else {
            throw .enomem("range beyond TASK_SIZE")
        }
    }

    /// `mmap(addr, size, prot, MAP_FIXED | ...)`: replaces whatever is mapped there.
    package func mmap(_ t: SimThread, addr: UInt64, size: UInt64, prot: Prot, kind: MapKind) async throws(MMError) {
        try checkRange(addr, size)
        let mm = t.mm
        let change = userActivity.begin(mm: mm.index, addr, addr + size, .unmap)
        await mmapWriteLock(t, mm)
        await unmapLocked(t, mm, addr, addr + size)
        let vma: VMA
        switch kind {
        case .privateAnon:
            vma = VMA(start: addr, end: addr + size, flags: vmFlags(prot, shared: false), backing: .anonymous,
                      pgoff: addr >> Geometry.pageShift)
        case .privateFile(let f, let pgoff):
            vma = VMA(start: addr, end: addr + size, flags: vmFlags(prot, shared: false), backing: .file(f), pgoff: pgoff)
        case .sharedFile(let f, let pgoff):
            vma = VMA(start: addr, end: addr + size, flags: vmFlags(prot, shared: true), backing: .file(f), pgoff: pgoff)
        }
        mm.insertVMA(vma)
        trace(t, "mmap_region", "\(VirtualAddress(addr))–\(VirtualAddress(addr + size)) \(vma.flags.smapsNames)")
        await vmaMergeNewRange(t, mm, at: addr)
        await mmapWriteUnlock(t, mm)
        userActivity.end(change)
    }

    /// `munmap` (`__vm_munmap` → `do_vmi_munmap` with `unlock`): the VMAs are split and taken
    /// out of the tree under mmap_lock held for write, which is then downgraded to read for
    /// the page-table teardown (`unmap_region`), so faults on other VMAs may run beside it.
    package func munmap(_ t: SimThread, addr: UInt64, size: UInt64) async throws(MMError) {
        try checkRange(addr, size)
        let mm = t.mm
        let start = addr, end = addr + size
        let change = userActivity.begin(mm: mm.index, start, end, .unmap)
        await mmapWriteLock(t, mm)
        guard mm.overlaps(start, end) else {
            await mmapWriteUnlock(t, mm)
            userActivity.end(change)
            return
        }
        let victims = await detachVMAs(t, mm, start, end)
        await mmapWriteDowngrade(t, mm)
        for v in victims { await zapRange(t, mm, v, v.start, v.end) }
        await freePageTables(t, mm, start, end)
        trace(t, "do_vmi_munmap", "\(VirtualAddress(start))–\(VirtualAddress(end))")
        await mmapReadUnlock(t, mm)
        userActivity.end(change)
    }

    /// `vms_gather_munmap_vmas` + `vms_complete_munmap_vmas`' detach: splits the VMAs at the
    /// edges and takes those in `[start, end)` out of the tree; returns them.
    func detachVMAs(_ t: SimThread, _ mm: MM, _ start: UInt64, _ end: UInt64) async -> [VMA] {
        await splitVMA(t, mm, at: start)
        await splitVMA(t, mm, at: end)
        let first = mm.firstVMA(endingAfter: start)
        var last = first
        while last < mm.vmas.count && mm.vmas[last].start < end { last += 1 }
        let victims = Array(mm.vmas[first..<last])
        for v in victims { await vmaStartWrite(t, mm, v) }
        mm.removeVMAs(in: first..<last)
        return victims
    }

    /// `split_vma` with `vma_adjust_trans_huge`: a huge PMD that the new boundary would cut is
    /// split into PTEs first, so that no PMD mapping straddles two VMAs.
    func splitVMA(_ t: SimThread, _ mm: MM, at addr: UInt64) async {
        guard let vi = mm.vmaIndex(containing: addr), mm.vmas[vi].start != addr else { return }
        await vmaStartWrite(t, mm, mm.vmas[vi])
        if addr & (Geometry.pmdSize - 1) != 0 && pmdEntry(mm, addr).isHuge {
            await splitHugePMD(t, mm, mm.vmas[vi], addr & ~(Geometry.pmdSize - 1))
        }
        mm.splitVMA(at: addr)
    }

    /// `vma_modify_flags`: the part `[start, end)` of one VMA becomes its own VMA with `flags`.
    /// Returns the new VMA. Merging back is the caller's `mergeVMAs`.
    func vmaModifyFlags(_ t: SimThread, _ mm: MM, _ start: UInt64, _ end: UInt64, _ flags: VMFlags) async -> VMA {
        await splitVMA(t, mm, at: start)
        await splitVMA(t, mm, at: end)
        let j = mm.vmaIndex(containing: start)!
        await vmaStartWrite(t, mm, mm.vmas[j])
        var nv = mm.vmas[j]
        nv.flags = flags
        mm.replaceVMA(at: j, with: nv)
        return nv
    }

    /// `do_vmi_munmap` with mmap_lock held for write throughout (a mapping put over others,
    /// mremap's target): detach the VMAs, zap them, free page tables no VMA needs.
    func unmapLocked(_ t: SimThread, _ mm: MM, _ start: UInt64, _ end: UInt64) async {
        guard mm.overlaps(start, end) else { return }
        let victims = await detachVMAs(t, mm, start, end)
        for v in victims { await zapRange(t, mm, v, v.start, v.end) }
        await freePageTables(t, mm, start, end)
        trace(t, "do_vmi_munmap", "\(VirtualAddress(start))–\(VirtualAddress(end))")
    }

    /// `vma_merge_new_range` (mm/vma.c), as `mmap_region` and `copy_vma` call it for the new
    /// VMA at `start`: it joins the VMA before it (which is expanded, `vma_expand`), the one
    /// after it (expanded downwards), or both, when `VMA.canMerge` allows; both only if the
    /// neighbours' anon_vmas are compatible too, else the one before. The expanded VMAs are
    /// write-locked first. A brk that grows the heap in place is this case too.
    func vmaMergeNewRange(_ t: SimThread, _ mm: MM, at start: UInt64) async {
        guard let i = mm.vmaIndex(containing: start) else { return }
        let v = mm.vmas[i]
        let prev = i > 0 && mm.vmas[i - 1].canMerge(with: v) ? i - 1 : nil
        var next = i + 1 < mm.vmas.count && v.canMerge(with: mm.vmas[i + 1]) ? i + 1 : nil
        if let p = prev, let n = next, !VMA.anonVMAsMergeable(mm.vmas[p], mm.vmas[n]) { next = nil }
        guard prev != nil || next != nil else { return }
        for j in [prev, next].compactMap({ $0 }) { await vmaStartWrite(t, mm, mm.vmas[j]) }
        let survivor = prev ?? next!
        let expanded = mm.vmas[survivor]
        let lo = prev ?? i
        mm.joinVMAs(lo...(next ?? i), survivor: survivor)
        mm.vmas[lo].flags.insert(.softDirty)
        trace(t, "vma_merge_new_range", "\(VirtualAddress(expanded.start))–\(VirtualAddress(expanded.end)) expanded to \(VirtualAddress(mm.vmas[lo].start))–\(VirtualAddress(mm.vmas[lo].end))")
    }

    /// `mremap(addr, oldSize, newSize)` growing in place (`vma_merge_extend`, after
    /// `vma_expandable`): the VMA that ends at `addr + oldSize` takes the free range after it,
    /// with contiguous pgoff and its own anon_vma, and joins the VMA after that if it can.
    /// mremap growing a moved mapping does this at the target (`move_vma` creates the target
    /// VMA at the new length). ENOMEM if the range is not free or no VMA ends there.
    package func mremapExpand(_ t: SimThread, addr: UInt64, oldSize: UInt64, newSize: UInt64) async throws(MMError) {
        try checkRange(addr, oldSize)
        try checkRange(addr, newSize)
        guard newSize > oldSize else { throw .einval("mremapExpand needs a larger size") }
        let mm = t.mm
        let end = addr + oldSize
        let change = userActivity.begin(mm: mm.index, end, addr + newSize, .unmap)
        defer { userActivity.end(change) }
        await mmapWriteLock(t, mm)
        guard let i = mm.vmaIndex(containing: end - 1), mm.vmas[i].end == end, !mm.overlaps(end, addr + newSize) else {
            await mmapWriteUnlock(t, mm)
            throw .enomem("0x\(String(end, radix: 16))–0x\(String(addr + newSize, radix: 16)) cannot extend a VMA")
        }
        var piece = mm.vmas[i]
        piece.start = end
        piece.end = addr + newSize
        piece.pgoff = mm.vmas[i].pageIndex(end)
        piece.id = 0
        mm.insertVMA(piece)
        trace(t, "vma_merge_extend", "\(VirtualAddress(mm.vmas[i].start))–\(VirtualAddress(end)) by \(newSize - oldSize) bytes")
        await vmaMergeNewRange(t, mm, at: end)
        await mmapWriteUnlock(t, mm)
    }

    /// `mremap(old, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, new)`: moves the VMAs and their
    /// page-table entries (`move_vma` / `move_page_tables`); folios keep their mappings and
    /// exclusivity. Huge PMDs move whole when both sides are 2 MiB aligned, else they are split.
    package func mremap(_ t: SimThread, from old: UInt64, size: UInt64, to new: UInt64) async throws(MMError) {
        try checkRange(old, size)
        try checkRange(new, size)
        guard new + size <= old || old + size <= new else { throw .einval("mremap ranges overlap") }
        let replaced = userActivity.begin(mm: t.mm.index, new, new + size, .unmap)
        let move = userActivity.begin(mm: t.mm.index, old, old + size, .move(to: new))
        let error = await moveVMA(t, from: old, size: size, to: new)
        userActivity.end(replaced)
        userActivity.end(move)
        if let error { throw error }
    }

    /// `mremap_to` → `move_vma` under mmap_lock held for write; returns the error to report.
    private func moveVMA(_ t: SimThread, from old: UInt64, size: UInt64, to new: UInt64) async -> MMError? {
        let mm = t.mm
        await mmapWriteLock(t, mm)
        var a = old
        while a < old + size {
            guard let i = mm.vmaIndex(containing: a) else {
                await mmapWriteUnlock(t, mm)
                return .efault("mremap source 0x\(String(a, radix: 16)) is not mapped")
            }
            a = mm.vmas[i].end
        }
        await unmapLocked(t, mm, new, new + size)
        await splitVMA(t, mm, at: old)
        await splitVMA(t, mm, at: old + size)
        let first = mm.firstVMA(endingAfter: old)
        var last = first
        while last < mm.vmas.count && mm.vmas[last].start < old + size { last += 1 }
        var moved: [VMA] = []
        for v in mm.vmas[first..<last] { await vmaStartWrite(t, mm, v) }
        for v in mm.vmas[first..<last] {
            var nv = v
            nv.start = v.start - old + new
            nv.end = v.end - old + new
            nv.id = 0
            moved.append(nv)
        }
        var addr = old
        while addr < old + size {
            guard pmdTableAlloc(mm, new + (addr - old)) != nil else {
                await mmapWriteUnlock(t, mm)
                return .enomem("page tables for the mremap target")
            }
            addr = await movePageTables(t, mm, from: addr, to: new + (addr - old), end: old + size)
        }
        mm.removeVMAs(in: first..<last)
        for v in moved { mm.insertVMA(v) }
        for v in moved { await vmaMergeNewRange(t, mm, at: v.start) }
        await freePageTables(t, mm, old, old + size)
        trace(t, "move_vma", "\(VirtualAddress(old))–\(VirtualAddress(old + size)) → \(VirtualAddress(new))")
        await mmapWriteUnlock(t, mm)
        return nil
    }

    /// One step of `move_page_tables`: moves a whole huge PMD (`move_huge_pmd`) or the PTEs up
    /// to the next PMD boundary of either side (`move_ptes`, with the shadow). Returns the
    /// next source address.
    private func movePageTables(_ t: SimThread, _ mm: MM, from src: UInt64, to dst: UInt64, end: UInt64) async -> UInt64 {
        let srcNext = min((src & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize, end)
        let dstNext = (dst & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize
        let step = min(srcNext - src, dstNext - dst)
        let e = pmdEntry(mm, src)
        if e.isNone { return src + step }
        if e.isHuge {
            if src & (Geometry.pmdSize - 1) == 0 && dst & (Geometry.pmdSize - 1) == 0 && step == Geometry.pmdSize {
                let sT = pmdTableID(mm, src)!, dT = pmdTableID(mm, dst)!
                let si = VirtualAddress(src).pmdIndex, di = VirtualAddress(dst).pmdIndex
                await pmdLock(t, sT, mm, src)
                if dT != sT { await pmdLock(t, dT, mm, dst) }
                setPMD(dT, dst, e)
                tables.setDeposited(dT, di, tables.deposited(sT, si))
                setPMD(sT, src, .none)
                tables.setDeposited(sT, si, 0)
                if dT != sT { await pmdUnlock(t, dT, mm, dst) }
                await pmdUnlock(t, sT, mm, src)
                return src + step
            }
            if let vi = mm.vmaIndex(containing: src) {
                await splitHugePMD(t, mm, mm.vmas[vi], src & ~(Geometry.pmdSize - 1))
            }
        }
        guard await pteAlloc(t, mm, dst) else { return src + step }
        let sTab = pmdEntry(mm, src).tableID, dTab = pmdEntry(mm, dst).tableID
        await ptlLock(t, sTab, mm, src)
        if dTab != sTab { await ptlLock(t, dTab, mm, dst) }
        let n = Int(step >> Geometry.pageShift)
        let si = VirtualAddress(src).pteIndex, di = VirtualAddress(dst).pteIndex
        for k in 0..<n {
            let from = PTESlot(table: sTab, index: si + k), to = PTESlot(table: dTab, index: di + k)
            setPTE(to, pte(from))
            setPTE(from, .none)
        }
        userData.ptesMoved(from: sTab, si, to: dTab, di, count: n)
        if dTab != sTab { await ptlUnlock(t, dTab, mm, dst) }
        await ptlUnlock(t, sTab, mm, src)
        return src + step
    }
}
