import Testing
@testable import FolioSimModel

/// The MM's walk cache (`World.walkCacheEntry`) is a memo of the page-table walk: it must
/// agree with a walk of the tables after every change to their structure, above all when
/// tables are freed and their ids handed out again, and it is per MM.
@Suite(.enabled(if: Tier.fast)) struct WalkCacheTests {
    /// The PTE table of `addr` by an unlogged, uncached walk (0 when there is none).
    func walkedPTETable(_ w: World, _ mm: MM, _ addr: UInt64) -> Int32 {
        let va = VirtualAddress(addr)
        let pud = w.tables.peekUpperTable(mm.pgd).entries[va.pgdIndex]
        guard pud != 0 else { return 0 }
        let pmdT = w.tables.peekUpperTable(pud).entries[va.pudIndex]
        guard pmdT != 0 else { return 0 }
        let e = w.tables.peekPMDTable(pmdT).entries[va.pmdIndex]
        return e.isTable ? e.tableID : 0
    }

    /// A write fills the cache with the table the walk finds; unmapping the range frees the
    /// tables, which empties it; the freed ids go to a mapping elsewhere, and the old range,
    /// mapped again, reads zero and keeps its own values apart from the other's.
    @Test func freedAndReusedTablesAreNotReachedThroughTheCache() async throws {
        let f = Fixture(memory: 64 << 20)
        f.world.checkStrategy = .audit
        let a = Fixture.base, b = Fixture.base + (4 << 30)
        try await f.mmap(2 << 20, at: a)
        #expect(await f.write(f.p, a, Geometry.pageSize, 1) == .ok(1))
        let first = walkedPTETable(f.world, f.p.mm, a)
        #expect(first != 0 && f.world.walkCacheEntry(f.p.mm, a) == first)

        try await f.world.munmap(f.p, addr: a, size: 2 << 20)
        #expect(walkedPTETable(f.world, f.p.mm, a) == 0)
        #expect(f.world.walkCacheEntry(f.p.mm, a) == nil)

        try await f.mmap(2 << 20, at: b)
        #expect(await f.write(f.p, b, Geometry.pageSize, 2) == .ok(2))
        #expect(walkedPTETable(f.world, f.p.mm, b) == first, "the freed PTE table is handed out again")

        try await f.mmap(2 << 20, at: a)
        #expect(await f.read(f.p, a) == 0)
        #expect(await f.write(f.p, a, Geometry.pageSize, 3) == .ok(3))
        #expect(await f.read(f.p, b) == 2)
        #expect(await f.read(f.p, a) == 3)
        #expect(f.world.walkCacheEntry(f.p.mm, a) == walkedPTETable(f.world, f.p.mm, a))
        #expect(walkedPTETable(f.world, f.p.mm, a) != first)
        #expect(f.violated().isEmpty && f.world.auditFailures.isEmpty, "\(f.world.violations) \(f.world.auditFailures)")
    }

    /// Parent and child each walk their own tables: the child's COW write and the parent's
    /// read of the same address go through different caches and tables.
    @Test func eachMMHasItsOwnCache() async throws {
        let f = Fixture(memory: 64 << 20)
        let a = Fixture.base
        try await f.mmap(2 << 20, at: a)
        await f.write(f.p, a, 2 * Geometry.pageSize, 1)
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(await f.write(c, a, Geometry.pageSize, 5) == .ok(5))
        #expect(await f.read(f.p, a) == 1)
        #expect(await f.read(c, a) == 5)
        let pt = walkedPTETable(f.world, f.p.mm, a), ct = walkedPTETable(f.world, c.mm, a)
        #expect(pt != ct && f.world.walkCacheEntry(f.p.mm, a) == pt && f.world.walkCacheEntry(c.mm, a) == ct)
        #expect(f.violated().isEmpty)
    }

    /// A huge PMD has no PTE table to cache; the MMU then reads the PMD entry itself. When
    /// the PMD is split into a PTE table, the cache follows.
    @Test func aHugePMDIsNotCachedAsATable() async throws {
        var thp = THPSettings(enabled: .always)
        thp.perOrder[Geometry.pmdOrder] = .always
        let w = World(memoryBytes: 64 << 20, swapBytes: 0, semantics: .v6_18, thp: thp)
        let p = w.createProcess(name: "P")!
        let a = Fixture.base
        try await w.mmap(p, addr: a, size: 2 << 20, prot: [.read, .write], kind: .privateAnon)
        #expect(await w.access(p, a, write: true, value: 7) == .ok(7))
        #expect(w.pmdEntry(p.mm, a).isHuge)
        #expect(w.walkCacheEntry(p.mm, a) == nil)
        #expect(await w.access(p, a + Geometry.pageSize, write: false) == .ok(0))
        try await w.mprotect(p, addr: a, size: Geometry.pageSize, prot: [.read])
        #expect(!w.pmdEntry(p.mm, a).isHuge)
        #expect(await w.access(p, a, write: false) == .ok(7))
        #expect(w.walkCacheEntry(p.mm, a) == walkedPTETable(w, p.mm, a) && walkedPTETable(w, p.mm, a) != 0)
        w.checkInvariants()
        #expect(w.violations.isEmpty)
    }
}
