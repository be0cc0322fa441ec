import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The explorer starts every run from a copy of the world after the config's steps
/// (`World(copying:)`, `Snapshot`): a copy must behave exactly like the original.
@Suite(.enabled(if: Tier.fast)) struct SnapshotTests {
    /// The first `setup` steps leave every part of the model in use: 64K folios, a partially
    /// unmapped folio on the deferred split queue, swap slots and swapcache folios, a fork, a
    /// pin. The rest runs after the copy, on the original and on the copy alike: COW copies,
    /// swap-ins, refaults of the unmapped half, an exit, an unpin, and enough allocation to
    /// reclaim.
    static let config = """
    {
      name: "snapshot", memory: "4M", swap: "1M",
      thp: { enabled: "never", sizes: { "64K": "always" } },
      steps: [
        { op: "mmap", proc: "P", addr: "0x40000000", size: "512K", prot: "rw", map: "private-anon" },
        { op: "write", proc: "P", addr: "0x40000000", size: "512K", value: 1 },
        { op: "madvise", proc: "P", addr: "0x40008000", size: "32K", advice: "dontneed" },
        { op: "madvise", proc: "P", addr: "0x40040000", size: "64K", advice: "pageout" },
        { op: "fork", proc: "P", child: "C" },
        { op: "pin", proc: "P", addr: "0x40020000", size: "4K", flags: ["longterm"], id: "p1" },

        { op: "write", proc: "C", addr: "0x40000000", size: "256K", value: 2 },
        { op: "read", proc: "P", addr: "0x40040000", size: "64K", expect: 1 },
        { op: "write", proc: "P", addr: "0x40008000", size: "32K", value: 3 },
        { op: "exit", proc: "C" },
        { op: "unpin", id: "p1" },
        { op: "mmap", proc: "Q", addr: "0x50000000", size: "3M", prot: "rw", map: "private-anon" },
        { op: "write", proc: "Q", addr: "0x50000000", size: "3M", value: 4 },
      ],
    }
    """
    static let setup = 6

    /// The snapshot of the first `setup` steps, and the steps that follow.
    static func split() async throws -> (Scenario, Snapshot, [Step]) {
        var scenario = try Scenario.decode(text: config, file: "snapshot.json5")
        let more = Array(scenario.steps[setup...])
        scenario.steps = Array(scenario.steps[..<setup])
        return (scenario, await Snapshot.make(scenario), more)
    }

    @Test func aCopiedWorldBehavesLikeTheOriginal() async throws {
        let (scenario, snapshot, more) = try await Self.split()
        #expect(snapshot.setupViolation == nil)
        #expect(snapshot.state.errors.isEmpty, "\(snapshot.state.errors)")
        let world = World(copying: snapshot.world)
        let state = RunState(copying: snapshot.state, world: world)
        #expect(difference(report(snapshot.state, scenario), report(state, scenario)) == nil, "the copy starts equal")

        await snapshot.state.runSteps(more, check: .step)
        await state.runSteps(more, check: .step)
        #expect(snapshot.world.violations.isEmpty && world.violations.isEmpty)
        #expect(difference(report(snapshot.state, scenario), report(state, scenario)) == nil, "and stays equal")
        #expect(snapshot.world.endStateDigest() == world.endStateDigest())
        #expect(snapshot.world.footprintBytes == world.footprintBytes)
    }

    @Test func theCopyOwnsItsState() async throws {
        let (scenario, snapshot, more) = try await Self.split()
        let before = report(snapshot.state, scenario)
        let world = World(copying: snapshot.world)
        let state = RunState(copying: snapshot.state, world: world)
        await state.runSteps(more, check: .off)
        #expect(difference(report(snapshot.state, scenario), before) == nil, "running the copy leaves the original as it was")
        #expect(difference(report(state, scenario), before) != nil)
    }

    /// The JSON report (every counter, gauge, folio census, error and violation), one line
    /// per value.
    private func report(_ state: RunState, _ scenario: Scenario) -> [String] {
        let r = RunResult(scenario: scenario, world: state.world, errors: state.errors, pinChecks: state.pinChecks, reads: state.reads,
                          peakUsedPages: state.peak, trace: [])
        return JSONWriter.write(Report.json(r)).split(separator: "\n").map(String.init)
    }

    /// The first line where two reports differ (nil when they are equal).
    private func difference(_ a: [String], _ b: [String]) -> String? {
        for (x, y) in zip(a, b) where x != y { return "\(x) ≠ \(y)" }
        return a.count == b.count ? nil : "\(a.count) vs \(b.count) lines"
    }
}

/// The checker's shadow of written values: one value per table until a second one appears.
@Suite(.enabled(if: Tier.fast)) struct ShadowTests {
    @Test func uniformTableKeepsOneValueUntilASecondIsWritten() async throws {
        let f = Fixture()
        try await f.mmap(2 << 20)
        _ = await f.write(f.p, Fixture.base, 2 << 20, 7)
        let slot = try #require(f.world.pteSlot(f.p.mm, Fixture.base))
        let shadow = f.world.shadow, id = slot.table
        #expect(!shadow.hasValueArray(id) && shadow.expected(id, 5) == 7)
        let copy = WrittenShadow(copying: shadow, tables: f.world.tables)
        _ = await f.write(f.p, Fixture.base + 3 * Geometry.pageSize, Geometry.pageSize, 9)
        #expect(shadow.hasValueArray(id) && shadow.expected(id, 3) == 9 && shadow.expected(id, 4) == 7)
        #expect(!copy.hasValueArray(id) && copy.expected(id, 3) == 7)
        f.world.checkInvariants()
        #expect(f.violated().isEmpty)
        // A lost write is still caught: the page's data no longer matches the shadow.
        f.world.memory.setData(f.page(f.p, Fixture.base + 3 * Geometry.pageSize)!, 7)
        f.world.checkInvariants()
        #expect(f.violated().contains("no-lost-write"))
    }
}

extension Snapshot {
    /// The config's run state in the snapshot's world.
    var state: RunState { (userSpace as! ScenarioUserSpace).state }
}
