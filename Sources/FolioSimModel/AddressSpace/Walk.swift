/// Where one PTE lives: its table and index.
package struct PTESlot: Hashable, Sendable {
    package var table: Int32
    package var index: Int
}

extension PTESlot: Comparable {
    package static func < (a: PTESlot, b: PTESlot) -> Bool { (a.table, a.index) < (b.table, b.index) }
}

/// Page-table walks (`pgd_offset` … `pte_offset_map`) and table allocation (`__pte_alloc`,
/// `__pmd_alloc`, `__pud_alloc`). Upper levels are allocated from the buddy allocator like the
/// kernel's page-table pages; they are freed only when the address space goes away or a range
/// is unmapped (`free_pgtables`). Every entry read or written here goes through the store's
/// accessors, so it is in the step's footprint.
extension World {
    /// The PMD table covering `addr`, or nil when an upper level is missing.
    @inline(__always) func pmdTableID(_ mm: MM, _ addr: UInt64) -> Int32? {
        if let t = cachedPMDTable(mm, addr) { return t }
        let va = VirtualAddress(addr)
        let pud = tables.upperEntry(mm.pgd, va.pgdIndex)
        guard pud != 0 else { return nil }
        let pmd = tables.upperEntry(pud, va.pudIndex)
        guard pmd != 0 else { return nil }
        fillWalkCache(mm, addr, pmd)
        return pmd
    }

    /// The PMD table covering `addr` from the MM's walk cache, if it holds the same 1 GiB.
    @inline(__always) func cachedPMDTable(_ mm: MM, _ addr: UInt64) -> Int32? {
        guard !accessLogging, let c = validWalkCache(mm),
              c.pmdKey >> (Geometry.pudShift - Geometry.pmdShift) == addr >> Geometry.pudShift else { return nil }
        return c.pmdTable
    }
    /// The PTE table that the PMD entry of `addr` points to, from the MM's walk cache: nil
    /// when the cache does not hold this 2 MiB, or holds it with a none or huge PMD entry.
    /// It saves the walk's dependent loads through the PGD, PUD and PMD tables (perf: the
    /// MMU's walk was a fifth of a write fault's time, walked three times a fault). While an
    /// explorer logs accesses it is bypassed, so that every walk's reads are in the footprint.
    @inline(__always) func cachedPTETable(_ mm: MM, _ addr: UInt64) -> Int32? {
        guard !accessLogging else { return nil }
        return walkCacheEntry(mm, addr)
    }
    /// What the walk cache holds for the PTE table of `addr`, whether or not an access log
    /// is attached (the cache is filled either way).
    @inline(__always) func walkCacheEntry(_ mm: MM, _ addr: UInt64) -> Int32? {
        guard let c = validWalkCache(mm), c.pmdKey == addr >> Geometry.pmdShift, c.pteTable != 0 else { return nil }
        return c.pteTable
    }
    /// The MM's walk cache if no table changed since it was filled.
    @inline(__always) private func validWalkCache(_ mm: MM) -> (pmdKey: UInt64, generation: UInt64, pmdTable: Int32, pteTable: Int32)? {
        let c = mm.walkCache
        return c.generation == tables.walkGeneration ? c : nil
    }
    /// Fills the walk cache for the 2 MiB of `addr` from its PMD table (an unlogged read of
    /// the PMD entry: the caller's walk reads it through the logged accessors).
    @inline(__always) func fillWalkCache(_ mm: MM, _ addr: UInt64, _ pmdTable: Int32) {
        let e = tables.peekPMDTable(pmdTable).entries[VirtualAddress(addr).pmdIndex]
        mm.walkCache = (addr >> Geometry.pmdShift, tables.walkGeneration, pmdTable, e.isTable ? e.tableID : 0)
    }

    /// The range walkers' skip over missing upper levels (`pgd_none_or_clear_bad` and
    /// `pud_none_or_clear_bad` in `unmap_page_range`, `copy_page_range`,
    /// `change_protection_range`, `walk_page_range`: `continue` to `pgd_addr_end` or
    /// `pud_addr_end`): `addr` when a PMD table covers it, else the first address of a
    /// later PGD or PUD entry's range that one covers, at most `end`. A walker steps
    /// through `[addr, end)` one PMD at a time, so a mapping costs what its page tables
    /// hold, not its size. A hole is read through the logged accessors, as a walk reads it.
    @inline(__always) func skipToPMDTable(_ mm: MM, _ addr: UInt64, _ end: UInt64) -> UInt64 {
        let a = peekSkipToPMDTable(mm, addr, end)
        guard a != addr, _slowPath(accessLogging) else { return a }
        return skipMissingUpper(mm, addr, end) { self.tables.upperEntry($0, $1) }
    }

    /// `skipToPMDTable` for the checker and reports: the same skip, unlogged.
    func peekSkipToPMDTable(_ mm: MM, _ addr: UInt64, _ end: UInt64) -> UInt64 {
        skipMissingUpper(mm, addr, end) { self.tables.peekUpperTable($0).entries[$1] }
    }

    @inline(__always) private func skipMissingUpper(_ mm: MM, _ addr: UInt64, _ end: UInt64,
                                                     _ entry: (Int32, Int) -> Int32) -> UInt64 {
        var a = addr
        while a < end {
            let va = VirtualAddress(a)
            let pud = entry(mm.pgd, va.pgdIndex)
            if pud == 0 {
                a = (a & ~(Geometry.pgdSpan - 1)) + Geometry.pgdSpan
            } else if entry(pud, va.pudIndex) == 0 {
                a = (a & ~(Geometry.pudSpan - 1)) + Geometry.pudSpan
            } else {
                return a
            }
        }
        return end
    }

    /// `pmd_alloc`: the PMD table covering `addr`, allocating missing levels. Nil on OOM.
    /// The walk cache's answer inline, the walk out of line.
    @inline(__always) func pmdTableAlloc(_ mm: MM, _ addr: UInt64) -> Int32? {
        if let t = cachedPMDTable(mm, addr) { return t }
        return pmdTableWalkAlloc(mm, addr)
    }
    @inline(never) private func pmdTableWalkAlloc(_ mm: MM, _ addr: UInt64) -> Int32? {
        let va = VirtualAddress(addr)
        var pud = tables.upperEntry(mm.pgd, va.pgdIndex)
        if pud == 0 {
            guard let page = allocPageTablePage() else { return nil }
            pud = tables.newUpperTable(backing: page)
            tables.setUpperEntry(mm.pgd, va.pgdIndex, pud)
        }
        var pmd = tables.upperEntry(pud, va.pudIndex)
        if pmd == 0 {
            guard let page = allocPageTablePage() else { return nil }
            pmd = tables.newPMDTable(backing: page)
            tables.setUpperEntry(pud, va.pudIndex, pmd)
        }
        fillWalkCache(mm, addr, pmd)
        return pmd
    }

    func allocPageTablePage() -> PFN? {
        guard let page = allocFolioReclaiming(order: 0) else { return nil }
        memory.set(page, PageFlag.reserved)
        return page
    }

    /// `pte_alloc_one` for `__pte_alloc`: the page is allocated before the PMD lock is taken,
    /// so when the buddy allocator is empty, direct reclaim is a scheduling step of its own
    /// (`allocFolio(t, order:)`).
    @inline(__always) func pteAllocOne(_ t: SimThread) async -> PFN? {
        let fast = memory.allocFolio(order: 0)
        guard let page = fast != nil ? fast : await allocFolioSlowPath(t, order: 0) else { return nil }
        memory.set(page, PageFlag.reserved)
        return page
    }
    func freePageTablePage(_ page: PFN) {
        memory.clear(page, PageFlag.reserved)
        memory.folioPut(page)
    }

    /// `pmdp_get_lockless`: the PMD entry for `addr` (none if no table).
    @inline(__always) package func pmdEntry(_ mm: MM, _ addr: UInt64) -> PMDEntry {
        guard let t = pmdTableID(mm, addr) else { return .none }
        return tables.pmdEntry(t, VirtualAddress(addr).pmdIndex)
    }
    @inline(__always) func setPMD(_ table: Int32, _ addr: UInt64, _ e: PMDEntry) {
        tables.setPMDEntry(table, VirtualAddress(addr).pmdIndex, e)
    }

    /// The point object for a lockless read of the PMD entry of `addr` (the upper entry that
    /// is missing, when there is no PMD table).
    func pmdObject(_ mm: MM, _ addr: UInt64) -> PointObject {
        let va = VirtualAddress(addr)
        let pud = tables.upperEntry(mm.pgd, va.pgdIndex)
        guard pud != 0 else { return .upper(table: mm.pgd, index: va.pgdIndex) }
        let pmd = tables.upperEntry(pud, va.pudIndex)
        guard pmd != 0 else { return .upper(table: pud, index: va.pudIndex) }
        return .pmd(table: pmd, index: va.pmdIndex)
    }

    /// `pte_offset_map`: the slot of the PTE for `addr` if a PTE table exists (not a huge PMD).
    @inline(__always) func pteSlot(_ mm: MM, _ addr: UInt64) -> PTESlot? {
        let e = pmdEntry(mm, addr)
        guard e.isTable else { return nil }
        return PTESlot(table: e.tableID, index: VirtualAddress(addr).pteIndex)
    }

    @inline(__always) func pte(_ s: PTESlot) -> PTE { tables.entry(s) }
    /// `pte_same(ptep_get(s), expected)` (`PageTableStore.entrySame`).
    @inline(__always) func pteSame(_ s: PTESlot, _ expected: PTE) -> Bool { tables.entrySame(s, expected) }
    /// `pte_none(ptep_get(s))` (`PageTableStore.entryIsNone`).
    @inline(__always) func pteNone(_ s: PTESlot) -> Bool { tables.entryIsNone(s) }
    @inline(__always) func setPTE(_ s: PTESlot, _ v: PTE) { tables.setEntry(s, v) }
    /// `ptep_get_lockless` for an address (none when there is no PTE table).
    @inline(__always) package func readPTE(_ mm: MM, _ addr: UInt64) -> PTE {
        guard let s = pteSlot(mm, addr) else { return .none }
        return pte(s)
    }

    /// `*vmf->pmd`: the fault's PMD entry, read through the PMD table found at fault entry.
    @inline(__always) func vmfPMD(_ vmf: VMFault) -> PMDEntry {
        tables.pmdEntry(vmf.pmdTable, VirtualAddress(vmf.address).pmdIndex)
    }

    /// `pte_alloc(vmf->pmd)`: the fault's PTE table, installed by `__pte_alloc` if missing;
    /// nil on OOM (or if a huge PMD appeared, which makes the fault retry).
    @inline(__always) func vmfPTEAlloc(_ t: SimThread, _ vmf: VMFault) async -> Int32? {
        var e = vmfPMD(vmf)
        if e.isNone {
            guard await pteAllocLocked(t, t.mm, vmf.pmdTable, vmf.address) else { return nil }
            e = vmfPMD(vmf)
        }
        return e.isTable ? e.tableID : nil
    }

    /// `__pte_alloc`: installs a PTE table under the PMD lock unless someone else did (the
    /// loser frees its table). Returns false on OOM.
    @inline(__always) func pteAlloc(_ t: SimThread, _ mm: MM, _ addr: UInt64) async -> Bool {
        guard let pmdT = pmdTableAlloc(mm, addr) else { return false }
        if !pmdEntry(mm, addr).isNone { return true }
        return await pteAllocLocked(t, mm, pmdT, addr)
    }

    /// The body of `__pte_alloc` once the PMD table is known: `pte_alloc_one`, then under the
    /// PMD lock `pmd_populate` if the entry is still none (else free the new table).
    func pteAllocLocked(_ t: SimThread, _ mm: MM, _ pmdT: Int32, _ addr: UInt64) async -> Bool {
        guard let page = await pteAllocOne(t) else { return false }
        let id = tables.newPTETable(backing: page)
        await pmdLock(t, pmdT, mm, addr)
        if pmdEntry(mm, addr).isNone {
            setPMD(pmdT, addr, .table(id))
            trace(t, "__pte_alloc", "install PTE table for \(VirtualAddress(addr & ~(Geometry.pmdSize - 1)))")
        } else {
            tables.freePTETable(id)
            freePageTablePage(page)
        }
        await pmdUnlock(t, pmdT, mm, addr)
        return true
    }

    /// Rewrites the PTEs of `[addr, end)`, inside one PTE table, under its PTL: `body` maps
    /// each old entry to the new one. The lock and the unlock are scheduling points; the loop
    /// between them is one step, as the kernel's loop under the PTL is (`change_pte_range`,
    /// `clear_refs_pte_range`).
    func updatePTEsLocked(_ t: SimThread, _ mm: MM, _ table: Int32, _ addr: UInt64, _ end: UInt64, _ body: (PTE) -> PTE) async {
        await ptlLock(t, table, mm, addr)
        var a = addr
        while a < end {
            let s = PTESlot(table: table, index: VirtualAddress(a).pteIndex)
            let old = pte(s)
            let new = body(old)
            if new != old { setPTE(s, new) }
            a += Geometry.pageSize
        }
        await ptlUnlock(t, table, mm, addr)
    }
}
