import Testing
@testable import FolioSimModel
@testable import FolioSimExperiments

/// The walks of a mapping visit only what its page tables hold: the checker's sparse walk
/// reports exactly what the dense walk (every 2 MiB unit a VMA overlaps) reports, healthy or
/// broken, and a huge sparse mapping costs its populated tables.
@Suite(.enabled(if: Tier.fast)) struct SparseWalkTests {
    /// P maps 3 GiB across two PUD entries and 1 GiB in another PGD entry's range; it writes
    /// a few pages in the first and the last GiB only (the middle GiB has no PMD table), and
    /// a fork child C shares them. Checks are audited (incremental against full).
    func world() async throws -> (Fixture, SimThread) {
        let f = Fixture(memory: 64 << 20)
        f.world.checkStrategy = .audit
        try await f.mmap(3 << 30)
        try await f.mmap(1 << 30, at: 1 << 40)
        await f.write(f.p, Fixture.base, 4 * Geometry.pageSize, 1)
        await f.write(f.p, Fixture.base + (2 << 30) + (6 << 20), 2 * Geometry.pageSize, 2)
        await f.write(f.p, (1 << 40) + (1 << 21), Geometry.pageSize, 3)
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(f.violated().isEmpty)
        return (f, c)
    }

    /// The violations a full check of `w` reports walking sparsely and densely (each on a
    /// copy), and the units each walked.
    func bothWalks(_ w: World) -> (sparse: [String], dense: [String], sparseUnits: Int, denseUnits: Int) {
        func run(_ dense: Bool) -> ([String], Int) {
            let c = World(copying: w)
            c.checkWalksEmptyUnits = dense
            let before = c.checkWork.units
            c.checkInvariants()
            return (c.violations.map(\.description), c.checkWork.units - before)
        }
        let (s, su) = run(false), (d, du) = run(true)
        return (s, d, su, du)
    }

    @Test func healthyWorldsAgree() async throws {
        let (f, c) = try await world()
        var r = bothWalks(f.world)
        #expect(r.sparse.isEmpty && r.dense.isEmpty)
        // Per process three PMD tables of 512 units (the middle GiB has none) against 4 GiB.
        #expect(r.sparseUnits == 2 * 3 * 512 && r.denseUnits == 2 * 4 * 512, "\(r.sparseUnits) \(r.denseUnits)")
        await f.world.exitMM(c)
        try await f.world.munmap(f.p, addr: Fixture.base, size: 1 << 30)
        #expect(f.violated().isEmpty && f.world.auditFailures.isEmpty, "\(f.world.auditFailures)")
        r = bothWalks(f.world)
        #expect(r.sparse.isEmpty && r.dense.isEmpty && r.sparseUnits == 2 * 512)
    }

    @Test func aLostWriteIsReportedAlike() async throws {
        let (f, _) = try await world()
        f.world.memory.setData(f.page(f.p, Fixture.base + (2 << 30) + (6 << 20))!, 9)
        let r = bothWalks(f.world)
        #expect(!r.sparse.isEmpty && r.sparse == r.dense, "\(r.sparse) \(r.dense)")
        #expect(f.violated().contains(Invariant.noLostWrite.rawValue))
        #expect(f.world.auditFailures.isEmpty, "\(f.world.auditFailures)")
    }

    @Test func wrongRSSIsReportedAlike() async throws {
        let (f, c) = try await world()
        c.mm.rssAnon += 1
        let r = bothWalks(f.world)
        #expect(r.sparse.count == 1 && r.sparse == r.dense, "\(r.sparse) \(r.dense)")
        #expect(f.violated() == [Invariant.rssCounters.rawValue])
    }

    /// A PMD lock left held is reported at every VMA part of every unit of its table, also
    /// those without an entry.
    @Test func aHeldPMDLockIsReportedAlike() async throws {
        let (f, _) = try await world()
        let table = f.world.pmdTableID(f.p.mm, (1 << 40))!
        f.world.tables.setPMDLockOwner(table, 99)
        let r = bothWalks(f.world)
        #expect(r.sparse.count == 512 && r.sparse == r.dense, "\(r.sparse.count) \(r.dense.count)")
        f.world.tables.setPMDLockOwner(table, 0)
    }

    /// A 64 TiB mapping with two pages written 32 TiB apart: mmap, the checks, fork and exit
    /// walk two PMD tables, not 2^25 units.
    @Test func aSixtyFourTerabyteMappingCostsItsTables() async throws {
        let f = Fixture(memory: 64 << 20)
        f.world.checkStrategy = .incremental
        let start: UInt64 = 1 << 32
        try await f.mmap(64 << 40, at: start)
        #expect(f.violated().isEmpty && f.world.checkWork.units == 0)
        let used = f.world.memory.usedPages
        await f.write(f.p, start, Geometry.pageSize, 1)
        await f.write(f.p, start + (32 << 40), Geometry.pageSize, 2)
        #expect(f.violated().isEmpty)
        let c = try await f.world.fork(f.p, childName: "C")
        await f.write(c, start, Geometry.pageSize, 3)
        #expect(f.violated().isEmpty)
        await f.world.exitMM(c)
        try await f.world.munmap(f.p, addr: start, size: 64 << 40)
        #expect(f.violated().isEmpty)
        #expect(f.world.memory.usedPages == used, "page tables left: \(f.world.memory.usedPages - used)")
        let r = bothWalks(f.world)
        #expect(r.sparse.isEmpty && r.sparseUnits == 0)
        // Each check re-adds the units that changed; the forked child's are all new: its two
        // PMD tables' 1024 units. The dense walk would visit 2^25 units a check.
        #expect(f.world.checkWork.units < 3 * 1024, "\(f.world.checkWork.units)")
    }
}
