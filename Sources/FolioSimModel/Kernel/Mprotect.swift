/// mprotect (mm/mprotect.c): `mprotect_fixup` splits VMAs and sets the flags,
/// `change_protection` → `change_pmd_range` → `change_huge_pmd` / `change_pte_range` rewrites
/// PTE protections, with `can_change_pte_writable` (S6: the write upgrade of exclusive anon
/// pages). Left out: NUMA-hinting protnone, uffd-wp resolve, PKEYs.
extension World {
    package func mprotect(_ t: SimThread, addr: UInt64, size: UInt64, prot: Prot) async throws(MMError) {
        try checkRange(addr, size)
        let mm = t.mm
        let end = addr + size
        await mmapWriteLock(t, mm)
        var a = addr
        while a < end {
            guard let i = mm.vmaIndex(containing: a) else {
                await mmapWriteUnlock(t, mm)
                throw .enomem("mprotect range 0x\(String(a, radix: 16)) is not mapped")
            }
            if prot.contains(.write) && mm.vmas[i].flags.contains(.shared) && !mm.vmas[i].flags.contains(.mayWrite) {
                await mmapWriteUnlock(t, mm)
                throw .eperm("shared mapping without VM_MAYWRITE")
            }
            a = mm.vmas[i].end
        }
        // mprotect_fixup per VMA: nothing happens to a VMA whose flags do not change (no
        // split, no PMD split, no PTE rewrite).
        a = addr
        while a < end, let i = mm.vmaIndex(containing: a) {
            let v = mm.vmas[i]
            let s = max(a, v.start), e = min(end, v.end)
            a = e
            var flags = v.flags
            flags.subtract([.read, .write, .exec])
            if prot.contains(.read) { flags.insert(.read) }
            if prot.contains(.write) { flags.formUnion([.read, .write]) }
            if prot.contains(.exec) { flags.insert(.exec) }
            if flags == v.flags { continue }
            let nv = await vmaModifyFlags(t, mm, s, e, flags)
            await changeProtection(t, mm, nv, nv.start, nv.end)
        }
        mm.mergeVMAs()
        trace(t, "mprotect_fixup", "\(VirtualAddress(addr))–\(VirtualAddress(end)) prot \(prot.contains(.read) ? "r" : "-")\(prot.contains(.write) ? "w" : "-")")
        await mmapWriteUnlock(t, mm)
    }

    /// `vma_wants_manual_pte_write_upgrade` (MM_CP_TRY_CHANGE_WRITABLE).
    func wantsManualWriteUpgrade(_ vma: VMA) -> Bool {
        guard vma.flags.contains(.write) else { return false }
        if vma.flags.contains(.shared) { return !vmaPageProtWritable(vma) }
        return true
    }

    /// `can_change_pte_writable` under the S6 switch.
    func canChangePTEWritable(_ vma: VMA, _ pte: PTE) -> Bool {
        guard vma.flags.contains(.write), !pte.isProtNone else { return false }
        if !vma.flags.contains(.softDirty) && !pte.isSoftDirty { return false }
        if pte.isUffdWp { return false }
        if !vma.flags.contains(.shared) {
            guard let page = vmNormalPage(pte), memory.isAnon(memory.folio(of: page)) else { return false }
            switch semantics.mprotectUpgrade {
            case .never: return false
            case .dirtyAE: return pte.isDirty && memory.anonExclusive(page)
            case .ae: return memory.anonExclusive(page)
            }
        }
        return pte.isDirty
    }

    /// `change_protection` over one VMA range.
    func changeProtection(_ t: SimThread, _ mm: MM, _ vma: VMA, _ start: UInt64, _ end: UInt64) async {
        let accessible = vma.flags.contains(.read) || vma.flags.contains(.write) || vma.flags.contains(.exec)
        let protWrite = vmaPageProtWritable(vma)
        let tryUpgrade = wantsManualWriteUpgrade(vma)
        var addr = start
        while addr < end {
            addr = skipToPMDTable(mm, addr, end)
            guard addr < end else { break }
            let next = min((addr & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize, end)
            var pmd = pmdEntry(mm, addr)
            if pmd.isHuge {
                if addr & (Geometry.pmdSize - 1) == 0 && next - addr == Geometry.pmdSize {
                    await changeHugePMD(t, mm, vma, addr, accessible: accessible, tryUpgrade: tryUpgrade)
                    addr = next
                    continue
                }
                await splitHugePMD(t, mm, vma, addr & ~(Geometry.pmdSize - 1))
                pmd = pmdEntry(mm, addr)
            }
            if pmd.isTable {
                await updatePTEsLocked(t, mm, pmd.tableID, addr, next) { old in
                    guard old.isPresent else { return old }
                    var new = old.withWrite(protWrite && !old.isSpecial).withProtNone(!accessible)
                    if tryUpgrade && accessible && !new.isWritable && canChangePTEWritable(vma, new) {
                        new = new.withWrite(true)
                    }
                    return new
                }
            }
            addr = next
        }
    }

    /// `change_huge_pmd`, with `can_change_pmd_writable` (AE of the head page).
    private func changeHugePMD(_ t: SimThread, _ mm: MM, _ vma: VMA, _ haddr: UInt64, accessible: Bool, tryUpgrade: Bool) async {
        guard let pmdT = pmdTableID(mm, haddr) else { return }
        await pmdLock(t, pmdT, mm, haddr)
        let old = pmdEntry(mm, haddr)
        var new = old.withWrite(false).withProtNone(!accessible)
        // can_change_pmd_writable: soft-dirty tracking needs the write fault.
        let softDirtyWP = !vma.flags.contains(.softDirty) && !old.isSoftDirty
        if tryUpgrade && accessible && !softDirtyWP && !memory.isZeroPage(old.pfn) && memory.isAnon(old.pfn) && !vma.flags.contains(.shared) {
            let upgrade: Bool
            // PMD-mapped THPs were upgraded only from 6.2 (c27f479ef542, KERNEL-NOTES.md).
            upgrade = semantics.mprotectUpgrade == .ae && memory.anonExclusive(old.pfn)
            if upgrade { new = new.withWrite(true) }
        }
        setPMD(pmdT, haddr, new)
        await pmdUnlock(t, pmdT, mm, haddr)
    }
}
