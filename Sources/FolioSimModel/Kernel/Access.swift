/// Outcome of a user-space load or store.
package enum AccessResult: Equatable, Sendable {
    case ok(UInt32)
    /// SIGSEGV (no VMA, or the VMA forbids the access).
    case segv
    /// SIGBUS.
    case bus
    /// The fault handler ran out of memory (the kernel would invoke the OOM killer).
    case oom
}

/// A CPU access through the page tables, and the arch fault handler around `handle_mm_fault`
/// (`do_user_addr_fault`: `lock_vma_under_rcu` (6.4+), else `lock_mm_and_find_vma`,
/// `access_error`, retry until the access succeeds). The MMU sets the accessed and dirty bits
/// as x86 does.
extension World {
    /// Loads (write == false) or stores `value` at `addr`, faulting as needed.
    @inline(__always) package func access(_ t: SimThread, _ addr: UInt64, write: Bool, value: UInt32 = 0) async -> AccessResult {
        let mm = t.mm
        var attempts = 0
        while true {
            if hooks != nil { await schedule(t, "do_user_addr_fault", write ? "MMU store" : "MMU load", pmdObject(mm, addr), .read) }
            if let v = mmuAccess(mm, addr, write: write, value: value) { return .ok(v) }
            attempts += 1
            if attempts > 16 && hooks == nil {
                report(.faultProgress, mm, addr: addr, "access did not succeed after 16 faults")
                return .segv
            }
            let flags: FaultFlags = write ? [.write, .user] : [.user]
            if semantics.vmaLocks, let vma = await lockVMAUnderRCU(t, mm, addr) {
                if write ? !vma.flags.contains(.write) : !vma.flags.contains(.read) {
                    await vmaEndRead(t, mm, vma)
                    return .segv
                }
                let ret = await handleMMFault(t, vma: vma, address: addr, flags: flags.union(.vmaLock))
                if !ret.contains(.retry) {
                    await vmaEndRead(t, mm, vma)
                    if ret.contains(.oom) { return .oom }
                    if ret.contains(.sigbus) { return .bus }
                    if ret.contains(.sigsegv) { return .segv }
                    continue
                }
                // VM_FAULT_RETRY (`vmf_anon_prepare`, which dropped the VMA lock): the fault
                // goes on under mmap_lock (`lock_mmap` in `do_user_addr_fault`).
            }
            if let failed = await faultUnderMmapLock(t, mm, addr, write: write, flags: flags) { return failed }
        }
    }

    /// The fault under `mmap_lock` held for read (`lock_mm_and_find_vma`: before 6.4, or when
    /// `lock_vma_under_rcu` declines the VMA, or after a VM_FAULT_RETRY under it): the
    /// access's outcome if it failed, nil to retry the access. Out of line: inlined next to
    /// the VMA-lock path, its own `VMFault` and call sites doubled the values the access
    /// loop's async frame keeps, and every resume of that frame recomputed their addresses.
    /// Since 6.10 every fault but those beside an mmap_lock writer takes the VMA lock.
    @inline(never) func faultUnderMmapLock(_ t: SimThread, _ mm: MM, _ addr: UInt64, write: Bool, flags: FaultFlags) async -> AccessResult? {
        await mmapReadLock(t, mm)
        guard let vi = mm.vmaIndex(containing: addr) else {
            await mmapReadUnlock(t, mm)
            return .segv
        }
        let vma = mm.vma(at: vi)
        if write ? !vma.flags.contains(.write) : !vma.flags.contains(.read) {
            await mmapReadUnlock(t, mm)
            return .segv
        }
        let ret = await handleMMFault(t, vma: vma, address: addr, flags: flags)
        await mmapReadUnlock(t, mm)
        if ret.contains(.oom) { return .oom }
        if ret.contains(.sigbus) { return .bus }
        if ret.contains(.sigsegv) { return .segv }
        return nil
    }

    /// `lock_vma_under_rcu`: the VMA containing `addr`, read-locked, if no mmap_lock writer
    /// has write-locked it (`vma_start_read` fails) and the release's rule admits it
    /// (`Semantics.vmaLockFaults`): 6.4–6.6 only anonymous VMAs (checked before
    /// `vma_start_read`); up to 6.9 not an anonymous VMA without an anon_vma (checked after
    /// it: preparing one looks at the neighbouring VMAs, which this lock does not cover);
    /// 6.10+ every VMA (`vmf_anon_prepare` handles a missing anon_vma). Nil: the caller
    /// takes mmap_lock.
    @_transparent func lockVMAUnderRCU(_ t: SimThread, _ mm: MM, _ addr: UInt64) async -> VMA? {
        await schedule(t, "lock_vma_under_rcu", "mas_walk", .vmas(mm: mm.index), .read)
        guard let vi = mm.vmaIndex(containing: addr) else { return nil }
        let found = mm.vmaIdentity(at: vi)
        if semantics.vmaLockFaults == .anon && !found.isAnonymous { return nil }
        await schedule(t, "lock_vma_under_rcu", "vma_start_read", .vmaLock(mm: mm.index, vma: found.id), .read)
        return vmaStartRead(mm, vi, found.id, addr)
    }

    /// `vma_start_read` and `lock_vma_under_rcu`'s checks after it: the VMA that `mas_walk`
    /// found at index `vi` with id `id`, as it is under the lock, if it is read-locked.
    /// Synchronous and out of line: in the async `lock_vma_under_rcu` this made that too
    /// large to be inlined into the access loop, which cost a task allocation a fault. The
    /// VMA is copied once, here, into the caller's frame: a copy at `mas_walk` and another
    /// through an `inout` cost 15 instructions a fault more (callgrind).
    @inline(never) func vmaStartRead(_ mm: MM, _ vi: Int, _ id: Int32, _ addr: UInt64) -> VMA? {
        guard !mm.isVMAWriteLocked(id) else { return nil }
        // The kernel looks again because the VMA may have been detached or resized between
        // mas_walk and vma_start_read, and reads its fields under the lock. Without a
        // scheduler no other thread runs between the two, so the VMA is the one found.
        var i = vi
        if hooks != nil || _slowPath(accessLogging) {
            guard let j = mm.vmaIndex(id: id, containing: addr) else { return nil }
            i = j
        }
        guard let vma = mm.vma(at: i, unlessMissingAnonVMA: semantics.vmaLockFaults != .all) else { return nil }
        mm.vmaReadLock(id)
        return vma
    }

    /// `vma_end_read`.
    @inline(__always) func vmaEndRead(_ t: SimThread, _ mm: MM, _ vma: VMA) async {
        await schedule(t, "vma_end_read", "up_read(vm_lock)", .vmaLock(mm: mm.index, vma: vma.id), .read)
        mm.vmaReadUnlock(vma.id)
    }

    /// The hardware walk: performs the access if the PTE (or huge PMD) allows it and returns
    /// the value read (or stored); nil means a page fault. Like the MMU it sets the accessed
    /// bit, and the dirty bit on a store. Every entry and frame it touches is recorded.
    @inline(__always) func mmuAccess(_ mm: MM, _ addr: UInt64, write: Bool, value: UInt32) -> UInt32? {
        let va = VirtualAddress(addr)
        let cached = cachedPTETable(mm, addr)
        var pmdT: Int32 = 0, pmd = PMDEntry.none
        if cached == nil {
            guard let t = pmdTableID(mm, addr) else { return nil }
            pmdT = t
            pmd = tables.pmdEntry(t, va.pmdIndex)
        }
        if let pteTable = cached ?? (pmd.isTable ? pmd.tableID : nil) {
            let slot = PTESlot(table: pteTable, index: va.pteIndex)
            let p = tables.entry(slot)
            guard p.isUserAccessible, !write || p.isWritable else { return nil }
            let page = p.pfn
            if write {
                let set = PTE(raw: p.raw | PTE.young | PTE.dirty)
                if set != p { tables.setEntry(slot, set) }
                memory.mmuStore(page, value)
                if memory.isAnon(memory.folio(of: page)) { userData.userStored(slot, value) }
                return value
            }
            if !p.isYoung { tables.setEntry(slot, p.withYoung(true)) }
            return memory.mmuLoad(page)
        }
        guard pmd.isHuge, !pmd.isProtNone, !write || pmd.isWritable else { return nil }
        let page = pmd.pfn + va.pteIndex
        if write {
            let set = pmd.withYoung(true).withDirty(true)
            if set != pmd { tables.setPMDEntry(pmdT, va.pmdIndex, set) }
            memory.mmuStore(page, value)
            let dep = tables.deposited(pmdT, va.pmdIndex)
            if dep != 0 && memory.isAnon(pmd.pfn) { userData.userStored(PTESlot(table: dep, index: va.pteIndex), value) }
            return value
        }
        if !pmd.isYoung { tables.setPMDEntry(pmdT, va.pmdIndex, pmd.withYoung(true)) }
        return memory.mmuLoad(page)
    }
}
