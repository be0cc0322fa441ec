/// `echo 4 > /proc/PID/clear_refs` (fs/proc/task_mmu.c `clear_refs_write` with
/// CLEAR_REFS_SOFT_DIRTY): every VMA loses VM_SOFTDIRTY, every present PTE is write-protected
/// and loses its soft-dirty bit (`clear_soft_dirty`), except a maybe-pinned page in a COW
/// mapping of an mm that has pinned (`pte_is_pinned`, 5.9+ with early COW); a huge PMD is
/// write-protected and cleaned too (`clear_soft_dirty_pmd`); swap PTEs lose the bit.
/// The next write then faults, and mprotect() no longer upgrades clean PTEs (the COW
/// selftest relies on that to keep a PTE read-only). Left out: the other clear_refs modes
/// (referenced bits, RSS high-water mark), TLB flushing.
extension World {
    package func clearRefsSoftDirty(_ t: SimThread) async {
        let mm = t.mm
        await mmapWriteLock(t, mm)
        for vma in mm.vmas { await vmaStartWrite(t, mm, vma) }
        for vi in mm.vmas.indices { mm.vmas[vi].flags.remove(.softDirty) }
        for vma in mm.vmas {
            var addr = vma.start
            while addr < vma.end {
                addr = skipToPMDTable(mm, addr, vma.end)
                guard addr < vma.end else { break }
                let next = min((addr & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize, vma.end)
                let pmd = pmdEntry(mm, addr)
                if pmd.isHuge {
                    if let pmdT = pmdTableID(mm, addr) {
                        await pmdLock(t, pmdT, mm, addr)
                        let e = pmdEntry(mm, addr)
                        if e.isHuge { setPMD(pmdT, addr & ~(Geometry.pmdSize - 1), e.withWrite(false).withSoftDirty(false)) }
                        await pmdUnlock(t, pmdT, mm, addr)
                    }
                } else if pmd.isTable {
                    await updatePTEsLocked(t, mm, pmd.tableID, addr, next) { old in
                        if old.isPresent { return pteIsPinned(mm, vma, old) ? old : old.withWrite(false).withSoftDirty(false) }
                        return old.isSwap ? old.withSoftDirty(false) : old
                    }
                }
                addr = next
            }
        }
        trace(t, "clear_refs_write", "soft-dirty bits of \(mm.name) cleared")
        await mmapWriteUnlock(t, mm)
    }

    /// `pte_is_pinned`: leave a maybe-pinned page of a COW mapping writable, so that clearing
    /// soft-dirty does not break COW on it (5.9+, the era of early COW for pinned pages).
    private func pteIsPinned(_ mm: MM, _ vma: VMA, _ pte: PTE) -> Bool {
        guard semantics.forkPinned != .share, mm.hasPinned, vma.isCOWMapping, let page = vmNormalPage(pte) else { return false }
        return memory.maybeDMAPinned(memory.folio(of: page))
    }
}
