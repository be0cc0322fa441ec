import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

@Suite(.enabled(if: Tier.fast)) struct ForkTests {
    @Test func forkSharesReadOnlyAndKeepsSequenceEven() async throws {
        let f = Fixture(sizes: [4: .always])
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 1 << 20, 7)
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(f.p.mm.writeProtectSeq == 2)
        #expect(c.mm.rssAnon == 256)
        let folio = try #require(f.folio(f.p, Fixture.base))
        let m = f.world.memory
        #expect(m.refcount(folio) == 32 && m.meta(folio).largeMapcount == 32)
        #expect(m.meta(folio).mmId0 == f.p.mm.mmID && m.meta(folio).mmId1 == c.mm.mmID)
        #expect(await f.read(c, Fixture.base + 0x8000) == 7)
        #expect(!c.mm.hasPinned, "MMF_HAS_PINNED is not inherited")
        #expect(f.violated().isEmpty)
    }

    @Test func childWritesOneFaultPerPage() async throws {
        // Checked on Linux 6.18: fork, then the child writes every page: one fault per page.
        let f = Fixture(sizes: [4: .always])
        try await f.mmap(8 << 20)
        await f.write(f.p, Fixture.base, 8 << 20, 1)
        let c = try await f.world.fork(f.p, childName: "C")
        await f.write(c, Fixture.base, 8 << 20, 2)
        #expect(f.stats(c).faultsTotal == 2048)
        #expect(f.stats(c).mthp[4].anonFaultAlloc == 0)
        #expect(f.stats(c).mthp[4].splitDeferred == 0, "the parent still maps every page")
        #expect(f.violated().isEmpty)
    }

    @Test func pinnedExclusivePageIsCopiedEarlyForTheChild() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 2 * Geometry.pageSize, 1)
        let pinned = try await f.world.pin(f.p, id: "dma", addr: Fixture.base, flags: [.pin, .write, .longterm])
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(f.page(f.p, Fixture.base) == pinned[0])
        #expect(f.pte(f.p, Fixture.base).isWritable, "the parent's pinned page stays writable")
        #expect(f.page(c, Fixture.base) != pinned[0])
        #expect(f.world.memory.anonExclusive(f.page(c, Fixture.base)!))
        #expect(f.stats(c).forkCopiedBytes == 4096)
        #expect(!f.pte(f.p, Fixture.base + 0x1000).isWritable, "the unpinned neighbour is shared")
        await f.write(f.p, Fixture.base, Geometry.pageSize, 2)
        #expect(f.world.memory.data(pinned[0]) == 2)
        #expect(await f.read(c, Fixture.base) == 1)
        #expect(f.violated().isEmpty)
    }

    @Test func forkIgnoringPinsBreaksPinStability() async throws {
        var sem = Semantics.v6_18
        sem.forkIgnoresPins = true
        let f = Fixture(semantics: sem)
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base)
        try await f.world.pin(f.p, id: "dma", addr: Fixture.base, flags: [.pin, .write, .longterm])
        _ = try await f.world.fork(f.p, childName: "C")
        let v = f.violated()
        #expect(v.contains("pinned-page-exclusive"))
    }

    @Test func pinnedLargeFolioCopiesOnlyItsExclusivePages() async throws {
        let f = Fixture(sizes: [4: .always])
        try await f.mmapAndFill64K()
        try await f.world.pin(f.p, id: "p", addr: Fixture.base, flags: [.pin, .longterm])
        let c = try await f.world.fork(f.p, childName: "C")
        // Every page is AE and the folio may be pinned: all 16 are copied for the child.
        #expect(f.stats(c).forkCopiedBytes == 64 << 10)
        #expect(f.violated().isEmpty)
    }

    @Test func dontforkAndWipeonfork() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        try await f.mmap(1 << 20, at: Fixture.base + (4 << 20))
        await f.write(f.p, Fixture.base, 1 << 20, 3)
        await f.write(f.p, Fixture.base + (4 << 20), 1 << 20, 4)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .dontfork)
        try await f.world.madvise(f.p, addr: Fixture.base + (4 << 20), size: 1 << 20, advice: .wipeonfork)
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(c.mm.vmaIndex(containing: Fixture.base) == nil)
        #expect(await f.read(c, Fixture.base) == nil)
        #expect(await f.read(c, Fixture.base + (4 << 20)) == 0)
        #expect(f.pte(f.p, Fixture.base).isWritable && f.pte(f.p, Fixture.base + (4 << 20)).isWritable)
        #expect(f.world.memory.anonExclusive(f.page(f.p, Fixture.base)!))
        #expect(f.violated().isEmpty)
    }

    @Test func doforkAndKeeponforkUndoTheAdvice() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 3)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .dontfork)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .dofork)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .wipeonfork)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .keeponfork)
        #expect(f.p.mm.vmas.count == 1, "the VMA pieces merged back")
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(await f.read(c, Fixture.base) == 3)
        #expect(f.violated().isEmpty)
    }

    @Test func wipeonforkNeedsPrivateAnon() async throws {
        let f = Fixture()
        let file = f.world.fileIndex(named: "m", kind: .memfd)
        try await f.mmap(1 << 20, kind: .sharedFile(file: file, pgoff: 0))
        await #expect(throws: MMError.self) {
            try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .wipeonfork)
        }
    }

    @Test func pmdTHPIsSharedByPMD() async throws {
        let f = Fixture(enabled: .always, sizes: [Geometry.pmdOrder: .inherit])
        try await f.mmap(2 << 20)
        await f.write(f.p, Fixture.base, 2 << 20, 1)
        let c = try await f.world.fork(f.p, childName: "C")
        let e = f.world.pmdEntry(c.mm, Fixture.base)
        #expect(e.isHuge && !e.isWritable)
        #expect(f.world.memory.meta(e.pfn).entireMapcount == 2)
        await f.write(c, Fixture.base + 0x1000, Geometry.pageSize, 2)
        #expect(f.world.pmdEntry(c.mm, Fixture.base).isTable, "the child's PMD was split, one page copied")
        #expect(f.world.pmdEntry(f.p.mm, Fixture.base).isHuge)
        #expect(await f.read(f.p, Fixture.base + 0x1000) == 1)
        #expect(f.violated().isEmpty)
    }
}
