import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

@Suite(.enabled(if: Tier.fast)) struct ZapTests {
    @Test func dontneedOfHalfAFolioQueuesDeferredSplit() async throws {
        let f = Fixture(sizes: [4: .always])
        try await f.mmapAndFill64K()
        let folio = f.folio(f.p, Fixture.base)!
        try await f.world.madvise(f.p, addr: Fixture.base + 0x8000, size: 0x8000, advice: .dontneed)
        #expect(f.world.memory.meta(folio).nrPagesMapped == 8)
        #expect(f.world.memory.refcount(folio) == 8)
        #expect(f.world.memory.test(folio, PageFlag.partiallyMapped))
        #expect(f.stats(f.p).mthp[4].splitDeferred == 1)
        #expect(await f.read(f.p, Fixture.base + 0x8000) == 0, "DONTNEED'ed anon memory reads zero")
        #expect(f.violated().isEmpty)
    }

    @Test func dontneedOfWholeFolioFreesIt() async throws {
        let f = Fixture(sizes: [4: .always])
        try await f.mmap(1 << 20)
        let free = f.world.memory.freePages
        await f.write(f.p, Fixture.base, 64 << 10, 1)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 64 << 10, advice: .dontneed)
        #expect(f.stats(f.p).mthp[4].splitDeferred == 0, "unmapped in one batch: never partially mapped")
        #expect(f.world.memory.freePages == free - 3, "only the PUD, PMD and PTE tables remain")
        #expect(f.violated().isEmpty)
    }

    @Test func munmapAndExitReturnAllMemory() async throws {
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit, 4: .always])
        let free = f.world.memory.freePages
        try await f.mmap(8 << 20)
        await f.write(f.p, Fixture.base, 8 << 20, 1)
        try await f.mmap(1 << 20, at: Fixture.base + (16 << 20))
        await f.write(f.p, Fixture.base + (16 << 20), 1 << 20, 1)
        try await f.world.munmap(f.p, addr: Fixture.base, size: 8 << 20)
        #expect(f.p.mm.rssAnon == 256)
        let c = try await f.world.fork(f.p, childName: "C")
        await f.world.exitMM(c)
        await f.world.exitMM(f.p)
        #expect(f.world.memory.freePages == free + 1, "everything but the huge zero folio is free again (the PGD too)")
        #expect(f.violated().isEmpty)
    }

    @Test func partialMunmapOfTHPSplitsThePMD() async throws {
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit])
        try await f.mmap(2 << 20)
        await f.write(f.p, Fixture.base, 2 << 20, 1)
        let folio = f.world.pmdEntry(f.p.mm, Fixture.base).pfn
        try await f.world.munmap(f.p, addr: Fixture.base + (1 << 20), size: 1 << 20)
        #expect(f.world.pmdEntry(f.p.mm, Fixture.base).isTable)
        #expect(f.world.memory.meta(folio).nrPagesMapped == 256)
        #expect(f.stats(f.p).mthp[9].splitDeferred == 1)
        #expect(f.violated().isEmpty)
    }

    @Test func munmapDetachesPins() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base)
        let pages = try await f.world.pin(f.p, id: "x", addr: Fixture.base, flags: [.pin, .longterm])
        try await f.world.madvise(f.p, addr: Fixture.base, size: Geometry.pageSize, advice: .dontneed)
        #expect(f.world.memory.isAllocated(pages[0]), "the pin keeps the page")
        await f.write(f.p, Fixture.base, Geometry.pageSize, 9)
        #expect(f.page(f.p, Fixture.base) != pages[0])
        #expect(f.violated().isEmpty, "the user unmapped the address: I4 no longer binds")
        await f.world.releasePin(id: "x")
        #expect(!f.world.memory.isAllocated(pages[0]))
    }
}

@Suite(.enabled(if: Tier.fast)) struct MprotectTests {
    @Test func exclusivePagesBecomeWritableAgain() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 1 << 20, 1)
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 1 << 20, prot: [.read])
        #expect(!f.pte(f.p, Fixture.base).isWritable)
        #expect(await f.write(f.p, Fixture.base) == .segv)
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 1 << 20, prot: [.read, .write])
        #expect(f.pte(f.p, Fixture.base).isWritable)
        let before = f.stats(f.p).faultsTotal
        await f.write(f.p, Fixture.base, 1 << 20, 2)
        #expect(f.stats(f.p).faultsTotal == before)
        #expect(f.violated().isEmpty)
    }

    @Test func sharedPagesStayReadOnly() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 1)
        _ = try await f.world.fork(f.p, childName: "C")
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 1 << 20, prot: [.read])
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 1 << 20, prot: [.read, .write])
        #expect(!f.pte(f.p, Fixture.base).isWritable)
        #expect(f.violated().isEmpty)
    }

    @Test func oldRuleNeverUpgrades() async throws {
        var sem = Semantics.v6_18
        sem.mprotectUpgrade = .never
        let f = Fixture(semantics: sem)
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 1)
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 1 << 20, prot: [.read])
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 1 << 20, prot: [.read, .write])
        #expect(!f.pte(f.p, Fixture.base).isWritable)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 2)
        #expect(f.stats(f.p).faults(.wpReuse) == 1)
    }

    @Test func protNoneMakesAccessesFail() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base)
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 1 << 20, prot: [])
        #expect(await f.read(f.p, Fixture.base) == nil)
        #expect(f.pte(f.p, Fixture.base).isProtNone)
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 1 << 20, prot: [.read])
        #expect(await f.read(f.p, Fixture.base) == 1)
    }

    @Test func unchangedFlagsLeaveThePTEsAlone() async throws {
        // mprotect_fixup returns early when the flags do not change: an AE read-only PTE
        // (left by an unshare) is not upgraded, and a THP's PMD is not split.
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit])
        try await f.mmap(4 << 20)
        try await f.world.madvise(f.p, addr: Fixture.base + (2 << 20), size: 2 << 20, advice: .nohugepage)
        await f.write(f.p, Fixture.base, 2 << 20, 1)
        try await f.world.pin(f.p, id: "ro", addr: Fixture.base + (2 << 20), flags: [.pin, .longterm])
        #expect(!f.pte(f.p, Fixture.base + (2 << 20)).isWritable)
        try await f.world.mprotect(f.p, addr: Fixture.base, size: 4 << 20, prot: [.read, .write])
        #expect(!f.pte(f.p, Fixture.base + (2 << 20)).isWritable)
        #expect(f.world.pmdEntry(f.p.mm, Fixture.base).isHuge)
        try await f.world.mprotect(f.p, addr: Fixture.base + 0x1000, size: 0x1000, prot: [.read, .write])
        #expect(f.world.pmdEntry(f.p.mm, Fixture.base).isHuge)
        #expect(f.violated().isEmpty)
    }

    @Test func unmappedRangeIsENOMEM() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await #expect(throws: MMError.self) {
            try await f.world.mprotect(f.p, addr: Fixture.base, size: 2 << 20, prot: [.read])
        }
    }
}

@Suite(.enabled(if: Tier.fast)) struct SwapTests {
    @Test func pageoutKeepsExclusivityInTheSwapPTE() async throws {
        let f = Fixture(swap: 16 << 20)
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 2 * Geometry.pageSize, 5)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .pageout)
        let s = f.pte(f.p, Fixture.base)
        #expect(s.isSwap && s.isSwapExclusive)
        #expect(f.p.mm.rssSwap == 2 && f.p.mm.rssAnon == 0)
        #expect(f.violated().isEmpty)
        #expect(await f.read(f.p, Fixture.base) == 5)
        #expect(f.pte(f.p, Fixture.base).isWritable, "an exclusive swap PTE comes back writable")
        #expect(f.stats(f.p).faults(.swapin) == 1)
        #expect(f.violated().isEmpty)
    }

    @Test func forkBetweenPageoutAndSwapinSharesTheEntry() async throws {
        let f = Fixture(swap: 16 << 20)
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 5)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .pageout)
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(!f.pte(f.p, Fixture.base).isSwapExclusive)
        #expect(f.world.swap.count[f.pte(f.p, Fixture.base).swapSlot] == 2)
        #expect(await f.read(f.p, Fixture.base) == 5)
        let page = f.page(f.p, Fixture.base)!
        #expect(!f.pte(f.p, Fixture.base).isWritable && !f.world.memory.anonExclusive(page))
        await f.write(f.p, Fixture.base, Geometry.pageSize, 6)
        #expect(f.page(f.p, Fixture.base) != page, "the child's swap PTE keeps the swapcache copy: COW")
        #expect(await f.read(c, Fixture.base) == 5)
        #expect(f.violated().isEmpty)
    }

    @Test func pinnedPageIsNotSwappedOut() async throws {
        let f = Fixture(swap: 16 << 20)
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 5)
        let pages = try await f.world.pin(f.p, id: "x", addr: Fixture.base, flags: [.pin, .longterm])
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .pageout)
        #expect(f.pte(f.p, Fixture.base).isPresent)
        #expect(f.page(f.p, Fixture.base) == pages.first, "the pinned page itself stays mapped")
        #expect(f.violated().isEmpty)
    }

    @Test func pageoutOfAPMDMappedTHPSplitsWithoutDeferring() async throws {
        let f = Fixture(swap: 16 << 20, enabled: .always, sizes: [Geometry.pmdOrder: .inherit])
        try await f.mmap(2 << 20)
        await f.write(f.p, Fixture.base, 2 << 20, 5)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 2 << 20, advice: .pageout)
        let s = f.stats(f.p).mthp[9]
        #expect(s.split == 1 && s.swpoutFallback == 1 && s.splitDeferred == 0)
        #expect(f.pte(f.p, Fixture.base + 0x3000).isSwap)
        #expect(await f.read(f.p, Fixture.base + 0x3000) == 5)
        #expect(f.violated().isEmpty)
    }

    @Test func aReferencedLargeFolioIsKeptWithoutCountingAFailedSplit() async throws {
        let f = Fixture(swap: 16 << 20, sizes: [4: .always])
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 64 << 10, 5)
        try await f.world.pin(f.p, id: "g", addr: Fixture.base, flags: [.get])
        try await f.world.madvise(f.p, addr: Fixture.base, size: 64 << 10, advice: .pageout)
        #expect(f.stats(f.p).mthp[4].splitFailed == 0)
        #expect(f.pte(f.p, Fixture.base + 0x1000).isPresent)
        #expect(f.violated().isEmpty)
    }

    @Test func memoryPressureReclaimsSwapcache() async throws {
        // 4 MiB of memory, 2 MiB written and paged out, then 3 MiB more written: the
        // swapcache copies must be dropped to make room, and the data stays in swap.
        let f = Fixture(memory: 4 << 20, swap: 16 << 20)
        try await f.mmap(2 << 20)
        await f.write(f.p, Fixture.base, 2 << 20, 3)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 2 << 20, advice: .pageout)
        try await f.mmap(3 << 20, at: Fixture.base + (4 << 20))
        let r = await f.write(f.p, Fixture.base + (4 << 20), 3 << 20, 4)
        #expect(r == .ok(4))
        #expect(await f.read(f.p, Fixture.base + 0x1000) == 3)
        #expect(f.violated().isEmpty)
    }
}

@Suite(.enabled(if: Tier.fast)) struct MremapTests {
    @Test func moveKeepsPagesAndData() async throws {
        let f = Fixture(sizes: [4: .always])
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 1 << 20, 6)
        let folio = f.folio(f.p, Fixture.base)
        let faults = f.stats(f.p).faultsTotal
        try await f.world.mremap(f.p, from: Fixture.base, size: 1 << 20, to: Fixture.base + (8 << 20))
        #expect(f.folio(f.p, Fixture.base + (8 << 20)) == folio)
        #expect(await f.read(f.p, Fixture.base + (8 << 20) + 0x5000) == 6)
        #expect(await f.read(f.p, Fixture.base) == nil)
        #expect(f.stats(f.p).faultsTotal == faults)
        #expect(f.violated().isEmpty)
    }

    @Test func moveOfPMDMappedTHPToUnalignedAddressSplits() async throws {
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit])
        try await f.mmap(2 << 20)
        await f.write(f.p, Fixture.base, 2 << 20, 6)
        try await f.world.mremap(f.p, from: Fixture.base, size: 2 << 20, to: Fixture.base + (8 << 20) + 0x10000)
        #expect(await f.read(f.p, Fixture.base + (8 << 20) + 0x10000 + 0x3000) == 6)
        #expect(f.violated().isEmpty)
    }
}
