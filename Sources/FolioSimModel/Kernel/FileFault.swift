/// Faults on file mappings (mm/memory.c `do_fault`): `do_read_fault` with `do_fault_around`,
/// `do_cow_fault` and `do_shared_fault`, over `SimFile` pagecaches.
/// Left out: readahead, large pagecache folios, truncation, `page_mkwrite` failures.
extension World {
    /// Pages `do_fault_around` considers (`fault_around_bytes` = 64 KiB).
    static let faultAroundPages = 16

    /// Whether `vm_page_prot` carries write: shared writable mappings of files that need no
    /// dirty tracking (memfd/shmem). Regular files use write-notify (read-only until
    /// `wp_page_shared`); private mappings never have it.
    func vmaPageProtWritable(_ vma: VMA) -> Bool {
        guard vma.pageProtWritable, let f = vma.fileIndex else { return false }
        return files[f].kind == .memfd
    }

    /// `do_fault`.
    func doFault(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        if !vmf.isWrite { return await doReadFault(t, &vmf) }
        if !vmf.vma.flags.contains(.shared) { return await doCOWFault(t, &vmf) }
        return await doSharedFault(t, &vmf)
    }

    private func fileIndex(_ vmf: VMFault, _ addr: UInt64) -> UInt64 { vmf.vma.pageIndex(addr) }

    /// `do_read_fault`: map already-cached neighbours (`filemap_map_pages`), then the faulting
    /// page (`filemap_fault` + `finish_fault`).
    func doReadFault(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        guard let table = await vmfPTEAlloc(t, vmf) else { return .oom }
        let file = vmf.vma.fileIndex!
        let writable = vmaPageProtWritable(vmf.vma)
        let window = UInt64(Self.faultAroundPages) * Geometry.pageSize
        let lo = max(vmf.address & ~(window - 1), vmf.vma.start, vmf.address & ~(Geometry.pmdSize - 1))
        let hi = min((vmf.address & ~(window - 1)) + window, vmf.vma.end, (vmf.address & ~(Geometry.pmdSize - 1)) + Geometry.pmdSize)
        await ptlLock(t, table, t.mm, vmf.address)
        var mappedFault = false
        var a = lo
        while a < hi {
            let s = PTESlot(table: table, index: VirtualAddress(a).pteIndex)
            if let folio = pagecacheLookup(file: file, index: fileIndex(vmf, a)), pteNone(s) {
                memory.folioGet(folio)
                folioAddFileRmapPTEs(folio, folio, 1, t.mm)
                t.mm.rssFile += 1
                setPTE(s, .page(folio, write: writable, dirty: false, young: true))
                if a == vmf.address { mappedFault = true }
            }
            a += Geometry.pageSize
        }
        await ptlUnlock(t, table, t.mm, vmf.address)
        if mappedFault {
            vmf.kind = .file
            return .zero
        }
        guard let folio = pagecacheFolio(file: file, index: fileIndex(vmf, vmf.address)) else { return .oom }
        memory.folioGet(folio)
        let slot = PTESlot(table: table, index: VirtualAddress(vmf.address).pteIndex)
        await ptlLock(t, table, t.mm, vmf.address)
        if !pteNone(slot) {
            await ptlUnlock(t, table, t.mm, vmf.address)
            memory.folioPut(folio)
            vmf.kind = .retry
            return .zero
        }
        folioAddFileRmapPTEs(folio, folio, 1, t.mm)
        t.mm.rssFile += 1
        setPTE(slot, .page(folio, write: writable, dirty: false, young: true))
        vmf.kind = .file
        trace(t, "do_read_fault", "map pagecache \(folio) of \(files[file].name) at \(VirtualAddress(vmf.address))")
        await ptlUnlock(t, table, t.mm, vmf.address)
        return .zero
    }

    /// `do_cow_fault`: a write to an unmapped page of a private file mapping copies the
    /// pagecache page into a new exclusive anon page.
    func doCOWFault(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        if let r = await vmfAnonPrepare(t, &vmf) { return r }
        guard let table = await vmfPTEAlloc(t, vmf) else { return .oom }
        guard let new = await allocFolio(t, order: 0) else { return .oom }
        guard let src = pagecacheFolio(file: vmf.vma.fileIndex!, index: fileIndex(vmf, vmf.address)) else {
            memory.folioPut(new)
            return .oom
        }
        memory.setData(new, memory.data(src))
        let slot = PTESlot(table: table, index: VirtualAddress(vmf.address).pteIndex)
        await ptlLock(t, table, t.mm, vmf.address)
        if !pteNone(slot) {
            await ptlUnlock(t, table, t.mm, vmf.address)
            memory.folioPut(new)
            vmf.kind = .retry
            return .zero
        }
        folioAddNewAnonRmap(new, t.mm, pmd: false)
        t.mm.rssAnon += 1
        let w = vmf.vma.flags.contains(.write)
        setPTE(slot, .page(new, write: w, dirty: true, young: true))
        vmf.kind = .fileCOW
        count(t.mm, Counter.cowCopiedBytes, Int(Geometry.pageSize))
        count(t.mm, Counter.pagesAllocated, 1)
        trace(t, "do_cow_fault", "copy pagecache \(src) into anon \(new) at \(VirtualAddress(vmf.address))")
        await ptlUnlock(t, table, t.mm, vmf.address)
        return .zero
    }

    /// `do_shared_fault`: map the pagecache page writable and dirty (after `page_mkwrite`).
    func doSharedFault(_ t: SimThread, _ vmf: inout VMFault) async -> VMFaultResult {
        guard let table = await vmfPTEAlloc(t, vmf) else { return .oom }
        guard let folio = pagecacheFolio(file: vmf.vma.fileIndex!, index: fileIndex(vmf, vmf.address)) else { return .oom }
        memory.folioGet(folio)
        let slot = PTESlot(table: table, index: VirtualAddress(vmf.address).pteIndex)
        await ptlLock(t, table, t.mm, vmf.address)
        if !pteNone(slot) {
            await ptlUnlock(t, table, t.mm, vmf.address)
            memory.folioPut(folio)
            vmf.kind = .retry
            return .zero
        }
        memory.set(folio, PageFlag.dirty)
        folioAddFileRmapPTEs(folio, folio, 1, t.mm)
        t.mm.rssFile += 1
        setPTE(slot, .page(folio, write: true, dirty: true, young: true))
        vmf.kind = .file
        trace(t, "do_shared_fault", "map pagecache \(folio) writable at \(VirtualAddress(vmf.address))")
        await ptlUnlock(t, table, t.mm, vmf.address)
        return .zero
    }
}
