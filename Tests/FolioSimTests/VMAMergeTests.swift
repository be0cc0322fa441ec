import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// `vma_merge_new_range` and `vma_merge_existing_range` (mm/vma.c) for anonymous mappings:
/// a new mapping joins compatible neighbours, and the merged VMA is what decides which
/// aligned blocks a large folio may fill (issue 18, item 5).
@Suite(.enabled(if: Tier.fast)) struct VMAMergeTests {
    static let x = Fixture.base

    func ranges(_ t: SimThread) -> [String] { t.mm.vmas.map { "\(VirtualAddress($0.start))–\(VirtualAddress($0.end))" } }

    @Test func aMappingJoinsThePreviousAndTheNextAndBoth() async throws {
        let f = Fixture()
        try await f.mmap(0x20000, at: Self.x)
        try await f.mmap(0x10000, at: Self.x + 0x20000)
        #expect(f.p.mm.vmas.count == 1, "expanded prev: \(ranges(f.p))")
        try await f.mmap(0x10000, at: Self.x + 0x40000)
        #expect(f.p.mm.vmas.count == 2)
        try await f.mmap(0x10000, at: Self.x + 0x30000)
        #expect(f.p.mm.vmas.count == 1 && f.p.mm.vmas[0].start == Self.x && f.p.mm.vmas[0].end == Self.x + 0x50000, "prev and next: \(ranges(f.p))")
        try await f.mmap(0x8000, at: Self.x - 0x8000)
        #expect(f.p.mm.vmas.count == 1 && f.p.mm.vmas[0].start == Self.x - 0x8000 && f.p.mm.vmas[0].pgoff == (Self.x - 0x8000) >> 12,
                "expanded next downwards: \(ranges(f.p))")
        #expect(f.violated().isEmpty)
    }

    @Test func differentProtectionsOrBackingsDoNotMerge() async throws {
        let f = Fixture()
        try await f.mmap(0x10000, at: Self.x)
        try await f.mmap(0x10000, at: Self.x + 0x10000, prot: [.read])
        let file = f.world.fileIndex(named: "f", kind: .memfd)
        try await f.mmap(0x10000, at: Self.x + 0x20000, kind: .privateFile(file: file, pgoff: 0))
        #expect(f.p.mm.vmas.count == 3)
        try await f.world.mprotect(f.p, addr: Self.x + 0x10000, size: 0x10000, prot: [.read, .write])
        #expect(f.p.mm.vmas.count == 2, "mprotect makes the flags equal and the two anon VMAs merge: \(ranges(f.p))")
    }

    /// 64K mTHP: the 64K block that straddles the old end of the first mapping is eligible
    /// only because the two mappings are one VMA.
    @Test func theMergedVMADecidesTheLargeFolio() async throws {
        let f = Fixture(sizes: [2: .always, 3: .always, 4: .always])
        try await f.mmap(0x44000, at: Self.x)
        try await f.mmap(0x30000, at: Self.x + 0x44000)
        await f.write(f.p, Self.x + 0x44000)
        #expect(f.world.memory.order(of: try #require(f.folio(f.p, Self.x + 0x44000))) == 4)
        #expect(f.folio(f.p, Self.x + 0x40000) == f.folio(f.p, Self.x + 0x44000))
    }

    /// A child's VMA that fork gave a copy of its parent's anon_vma does not merge with a new
    /// mapping (`vma_had_uncowed_parents`); the parent's own VMA does.
    @Test func anInheritedAnonVMAKeepsAChildsMappingsApart() async throws {
        let f = Fixture(sizes: [2: .always, 3: .always, 4: .always])
        try await f.mmap(0x24000, at: Self.x)
        await f.write(f.p, Self.x)
        let c = try await f.world.fork(f.p, childName: "C")
        try await f.world.mmap(c, addr: Self.x + 0x24000, size: 0x2c000, prot: [.read, .write], kind: .privateAnon)
        #expect(c.mm.vmas.count == 2)
        await f.write(c, Self.x + 0x24000)
        #expect(f.world.memory.order(of: try #require(f.folio(c, Self.x + 0x24000))) == 2, "16K: the 64K and 32K blocks reach into the other VMA")
        try await f.mmap(0x2c000, at: Self.x + 0x24000)
        #expect(f.p.mm.vmas.count == 1, "the parent's VMA has only its own anon_vma")
        #expect(f.violated().isEmpty)
    }

    @Test func aMoveNextToACompatibleVMAMerges() async throws {
        let f = Fixture()
        try await f.mmap(0x10000, at: Self.x)
        await f.write(f.p, Self.x)
        try await f.world.mremap(f.p, from: Self.x, size: 0x10000, to: Self.x + 0x100000)
        try await f.world.mremap(f.p, from: Self.x + 0x100000, size: 0x10000, to: Self.x)
        try await f.mmap(0x10000, at: Self.x + 0x10000)
        #expect(f.p.mm.vmas.count == 1, "pgoff is linear again after moving back: \(ranges(f.p))")
        try await f.world.mremap(f.p, from: Self.x, size: 0x20000, to: Self.x + 0x200000)
        try await f.mmap(0x10000, at: Self.x + 0x220000)
        #expect(f.p.mm.vmas.count == 2, "a moved VMA keeps its pgoff, so a new mapping after it is not contiguous: \(ranges(f.p))")
        #expect(f.violated().isEmpty)
    }

    /// mremap growing a mapping, in place or at its new address, extends its VMA with
    /// contiguous pgoff (`vma_merge_extend`, `move_vma`), also after a move made the pgoff
    /// non-linear, so a large folio may straddle the old end.
    @Test func mremapGrowthExtendsTheVMA() async throws {
        let f = Fixture(sizes: [2: .always, 3: .always, 4: .always])
        try await f.mmap(0x14000, at: Self.x)
        await f.write(f.p, Self.x)
        try await f.world.mremap(f.p, from: Self.x, size: 0x14000, to: Self.x + 0x100000)
        try await f.world.mremapExpand(f.p, addr: Self.x + 0x100000, oldSize: 0x14000, newSize: 0x40000)
        #expect(f.p.mm.vmas.count == 1 && f.p.mm.vmas[0].end == Self.x + 0x140000 && f.p.mm.vmas[0].pgoff == Self.x >> 12, "\(ranges(f.p))")
        await f.write(f.p, Self.x + 0x110000)
        #expect(f.world.memory.order(of: try #require(f.folio(f.p, Self.x + 0x114000))) == 4, "the 64K block across the old end")
        await #expect(throws: MMError.self) { try await f.world.mremapExpand(f.p, addr: Self.x + 0x100000, oldSize: 0x10000, newSize: 0x20000) }
        try await f.mmap(0x10000, at: Self.x + 0x150000)
        await #expect(throws: MMError.self) { try await f.world.mremapExpand(f.p, addr: Self.x + 0x100000, oldSize: 0x40000, newSize: 0x60000) }
        #expect(f.violated().isEmpty)
    }

    /// A VMA that differs from its neighbour only in its access bits takes the neighbour's
    /// anon_vma at its first fault (`find_mergeable_anon_vma`), so an mprotect that makes the
    /// two equal merges them, as the kernel does; a child's inherited anon_vma is not reused.
    @Test func aNeighboursAnonVMAIsReusedSoALaterMprotectMerges() async throws {
        let f = Fixture()
        try await f.mmap(0x10000, at: Self.x)
        try await f.mmap(0x10000, at: Self.x + 0x10000, prot: [.read, .write, .exec])
        await f.write(f.p, Self.x)
        await f.write(f.p, Self.x + 0x10000)
        #expect(f.p.mm.vmas.count == 2 && f.p.mm.vmas[0].anonVMA == f.p.mm.vmas[1].anonVMA)
        try await f.world.mprotect(f.p, addr: Self.x + 0x10000, size: 0x10000, prot: [.read, .write])
        #expect(f.p.mm.vmas.count == 1, "\(ranges(f.p))")
        let c = try await f.world.fork(f.p, childName: "C")
        try await f.world.mmap(c, addr: Self.x + 0x20000, size: 0x10000, prot: [.read, .write, .exec], kind: .privateAnon)
        await f.write(c, Self.x + 0x20000)
        #expect(c.mm.vmas.count == 2 && c.mm.vmas[0].anonVMA != c.mm.vmas[1].anonVMA)
        #expect(f.violated().isEmpty)
    }
}
