import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

@Suite(.enabled(if: Tier.fast)) struct AnonymousFaultTests {
    @Test func readMapsZeroPageThenWriteCopiesIt() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        #expect(await f.read(f.p, Fixture.base) == 0)
        let z = f.pte(f.p, Fixture.base)
        #expect(z.isSpecial && !z.isWritable && z.pfn == f.world.memory.zeroPFN)
        #expect(f.p.mm.rssAnon == 0)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 5)
        let n = f.pte(f.p, Fixture.base)
        #expect(n.isWritable && n.isDirty && !n.isSpecial)
        #expect(f.world.memory.anonExclusive(n.pfn))
        #expect(f.stats(f.p).faults(.zeropage) == 1)
        #expect(f.stats(f.p).faults(.wpCopy) == 1)
        #expect(f.stats(f.p).cowCopiedBytes == 0, "copying the zero page is a zero fill")
        #expect(f.violated().isEmpty)
    }

    @Test func mthpFaultMapsWholeAlignedFolio() async throws {
        let f = Fixture(sizes: [4: .always])
        try await f.mmap(1 << 20, at: Fixture.base + 0x10000)
        await f.write(f.p, Fixture.base + 0x10000 + 0x3000)
        let folio = try #require(f.folio(f.p, Fixture.base + 0x10000))
        let m = f.world.memory
        #expect(m.order(of: folio) == 4)
        #expect(m.refcount(folio) == 16)
        #expect(m.meta(folio).largeMapcount == 16)
        for i in 0..<16 {
            let a = Fixture.base + 0x10000 + UInt64(i) * Geometry.pageSize
            #expect(f.page(f.p, a) == folio + i)
            #expect(m.anonExclusive(folio + i))
            #expect(f.pte(f.p, a).isWritable)
        }
        #expect(f.stats(f.p).mthp[4].anonFaultAlloc == 1)
        #expect(f.stats(f.p).faultsTotal == 1)
        #expect(f.violated().isEmpty)
    }

    @Test func orderMustFitTheVMA() async throws {
        // A 40 KiB VMA with only 64K enabled gets order 0; with 32K enabled too, a 32 KiB
        // folio if the aligned block around the address lies inside the VMA.
        let f = Fixture(sizes: [4: .always])
        try await f.mmap(40 << 10)
        await f.write(f.p, Fixture.base)
        #expect(f.world.memory.order(of: f.folio(f.p, Fixture.base)!) == 0)

        let g = Fixture(sizes: [3: .always, 4: .always])
        try await g.mmap(40 << 10)
        await g.write(g.p, Fixture.base)
        #expect(g.world.memory.order(of: g.folio(g.p, Fixture.base)!) == 3)
        await g.write(g.p, Fixture.base + 0x8000)
        #expect(g.world.memory.order(of: g.folio(g.p, Fixture.base + 0x8000)!) == 0, "the last 8 KiB fit no 32 KiB block")
    }

    @Test func filledPTEInBlockForcesLowerOrder() async throws {
        let f = Fixture(sizes: [2: .always, 4: .always])
        try await f.mmap(1 << 20)
        _ = await f.read(f.p, Fixture.base + 0x5000)
        await f.write(f.p, Fixture.base + 0x1000)
        let folio = try #require(f.folio(f.p, Fixture.base + 0x1000))
        #expect(f.world.memory.order(of: folio) == 2, "the 64K block holds a zero-page PTE; the 16K block is empty")
    }

    @Test func madviseOnlySizesNeedVMHugepage() async throws {
        let f = Fixture(sizes: [4: .madvise])
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base)
        #expect(f.world.memory.order(of: f.folio(f.p, Fixture.base)!) == 0)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .hugepage)
        await f.write(f.p, Fixture.base + 0x10000)
        #expect(f.world.memory.order(of: f.folio(f.p, Fixture.base + 0x10000)!) == 4)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .nohugepage)
        await f.write(f.p, Fixture.base + 0x20000)
        #expect(f.world.memory.order(of: f.folio(f.p, Fixture.base + 0x20000)!) == 0)
    }

    @Test func inheritFollowsTopLevel() async throws {
        let f = Fixture(enabled: .always, sizes: [4: .inherit])
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base)
        #expect(f.world.memory.order(of: f.folio(f.p, Fixture.base)!) == 4)
    }

    @Test func allocationFailureFallsBackOrderByOrder() async throws {
        // 4 MiB of memory; fragment it so that no 64K block is free, but 16K blocks are.
        let f = Fixture(memory: 4 << 20, sizes: [2: .always, 4: .always])
        let m = f.world.memory
        var held: [PFN] = []
        while let p = m.allocFolio(order: 2) { held.append(p) }
        for (i, p) in held.enumerated() where i % 2 == 0 { m.folioPut(p) }
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base)
        #expect(m.order(of: f.folio(f.p, Fixture.base)!) == 2)
        #expect(f.stats(f.p).mthp[4].anonFaultFallback == 1)
        #expect(f.stats(f.p).mthp[2].anonFaultAlloc == 1)
    }

    @Test func accessOutsideVMAPermissionsIsSegv() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20, prot: [.read])
        #expect(await f.write(f.p, Fixture.base) == .segv)
        #expect(await f.read(f.p, Fixture.base + (2 << 20)) == nil, "no VMA there")
    }
}

@Suite(.enabled(if: Tier.fast)) struct HugePMDTests {
    @Test func pmdTHPOnWriteAndHugeZeroOnRead() async throws {
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit])
        try await f.mmap(8 << 20)
        _ = await f.read(f.p, Fixture.base)
        let e = f.world.pmdEntry(f.p.mm, Fixture.base)
        #expect(e.isHuge && f.world.memory.isZero(e.pfn))
        await f.write(f.p, Fixture.base + (2 << 20))
        let t = f.world.pmdEntry(f.p.mm, Fixture.base + (2 << 20))
        #expect(t.isHuge && t.isWritable)
        #expect(f.world.memory.anonExclusive(t.pfn))
        #expect(f.world.memory.meta(t.pfn).entireMapcount == 1)
        #expect(f.p.mm.rssAnon == 512)
        // 6.13+: a write to the huge zero PMD allocates a THP instead of splitting.
        await f.write(f.p, Fixture.base + 0x5000, Geometry.pageSize, 9)
        let w = f.world.pmdEntry(f.p.mm, Fixture.base)
        #expect(w.isHuge && !f.world.memory.isZero(w.pfn))
        #expect(await f.read(f.p, Fixture.base + 0x5000) == 9)
        #expect(f.stats(f.p).mthp[9].anonFaultAlloc == 2)
        #expect(f.stats(f.p).faultsTotal == 3)
        #expect(f.violated().isEmpty)
    }

    @Test func longtermPinOfHugeZeroPMDAllocatesATHP() async throws {
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit])
        try await f.mmap(2 << 20)
        _ = await f.read(f.p, Fixture.base)
        let pinned = try await f.world.pin(f.p, id: "ro", addr: Fixture.base + 0x5000, flags: [.pin, .longterm])
        let e = f.world.pmdEntry(f.p.mm, Fixture.base)
        #expect(e.isHuge && !f.world.memory.isZero(e.pfn) && pinned[0] == e.pfn + 5)
        #expect(f.stats(f.p).faults(.unshare) == 1 && f.stats(f.p).mthp[9].anonFaultAlloc == 1)
        let before = f.stats(f.p).faultsTotal
        await f.write(f.p, Fixture.base, 2 << 20, 7)
        #expect(f.stats(f.p).faultsTotal == before, "do_huge_zero_wp_pmd mapped the new THP writable")
        #expect(f.world.memory.data(pinned[0]) == 7)
        #expect(f.violated().isEmpty)
    }

    @Test func writeOnHugeZeroSplitsWithoutTheSwitch() async throws {
        var sem = Semantics.v6_18
        sem.hugeZeroWPAllocatesTHP = false
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit], semantics: sem)
        try await f.mmap(2 << 20)
        _ = await f.read(f.p, Fixture.base)
        await f.write(f.p, Fixture.base + 0x3000)
        #expect(f.world.pmdEntry(f.p.mm, Fixture.base).isTable)
        #expect(f.pte(f.p, Fixture.base).isSpecial, "other PTEs still map the zero page")
        #expect(!f.pte(f.p, Fixture.base + 0x3000).isSpecial)
        #expect(f.violated().isEmpty)
    }

    @Test func vmaTooSmallFallsBackToPTEs() async throws {
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit])
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base)
        #expect(f.world.pmdEntry(f.p.mm, Fixture.base).isTable)
        #expect(f.stats(f.p).mthp[9].anonFaultFallback == 0, "not suitable is not a fallback")
    }
}

@Suite(.enabled(if: Tier.fast)) struct FileFaultTests {
    @Test func privateFileReadMapsPagecacheThenWriteCopies() async throws {
        let f = Fixture()
        let file = f.world.fileIndex(named: "lib.so", kind: .regular)
        try await f.mmap(1 << 20, kind: .privateFile(file: file, pgoff: 0))
        #expect(await f.read(f.p, Fixture.base) == 0)
        let cached = try #require(f.page(f.p, Fixture.base))
        #expect(!f.world.memory.isAnon(cached) && !f.pte(f.p, Fixture.base).isWritable)
        #expect(f.stats(f.p).faults(.file) == 1 && f.p.mm.rssFile == 1)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 3)
        #expect(f.page(f.p, Fixture.base) != cached)
        #expect(f.world.memory.data(cached) == 0, "the file is not modified through a private mapping")
        #expect(f.stats(f.p).faults(.wpCopy) == 1 && f.p.mm.rssFile == 0 && f.p.mm.rssAnon == 1)
        await f.write(f.p, Fixture.base + 0x1000, Geometry.pageSize, 4)
        #expect(f.stats(f.p).faults(.fileCOW) == 1, "a write to an unmapped private file page is do_cow_fault")
        #expect(f.violated().isEmpty)
    }

    @Test func sharedFileWritesAreSeenByOtherMappers() async throws {
        let f = Fixture()
        let file = f.world.fileIndex(named: "shm", kind: .memfd)
        try await f.mmap(1 << 20, kind: .sharedFile(file: file, pgoff: 0))
        await f.write(f.p, Fixture.base, Geometry.pageSize, 8)
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(f.world.pteSlot(c.mm, Fixture.base) == nil || f.pte(c, Fixture.base).isNone, "shared file pages are not copied at fork")
        #expect(await f.read(c, Fixture.base) == 8)
        await f.write(c, Fixture.base, Geometry.pageSize, 9)
        #expect(await f.read(f.p, Fixture.base) == 9)
        let q = f.world.createProcess(name: "Q")!
        try await f.world.mmap(q, addr: Fixture.base + (4 << 20), size: 1 << 20, prot: [.read], kind: .sharedFile(file: file, pgoff: 0))
        #expect(await f.read(q, Fixture.base + (4 << 20)) == 9)
        #expect(f.violated().isEmpty)
    }

    @Test func faultAroundMapsCachedNeighbours() async throws {
        let f = Fixture()
        let file = f.world.fileIndex(named: "shm", kind: .memfd)
        try await f.mmap(1 << 20, kind: .sharedFile(file: file, pgoff: 0))
        await f.write(f.p, Fixture.base, 16 * Geometry.pageSize, 1)
        let q = f.world.createProcess(name: "Q")!
        try await f.world.mmap(q, addr: Fixture.base, size: 1 << 20, prot: [.read], kind: .sharedFile(file: file, pgoff: 0))
        #expect(await f.read(q, Fixture.base) == 1)
        #expect(f.world.readPTE(q.mm, Fixture.base + 0xF000).isPresent, "do_fault_around mapped the 64 KiB window")
        #expect(q.mm.stats.faultsTotal == 1)
        #expect(f.violated().isEmpty)
    }
}
