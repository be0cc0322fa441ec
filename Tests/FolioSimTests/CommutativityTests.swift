import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The commutativity audit (CommutativityAudit.swift): at sampled states of every race
/// config and of generated programs, every pair of steps the footprints call independent
/// must commute: the same state after both orders, the same values read, the same next point.
/// The fast tier samples 2 runs and 60 pairs of each config and 24 programs; the full tier 4
/// runs and 200 pairs, and 80 programs; `FOLIOSIM_TESTS_DEEP=1` 6 runs, 400 pairs and 220.
@Suite struct CommutativityTests {
    static func raceConfig(_ name: String, full: Bool) async throws {
        let s = try ExploreTests.load(name)
        let r = await CommutativityAudit.sample(s, seed: 1, runs: Tier.deep ? 6 : full ? 4 : 2, every: 3, maxPairs: Tier.deep ? 400 : full ? 200 : 60)
        #expect(r.failures.isEmpty, "\(name): \(r.failures.prefix(3))")
        #expect(r.checked > 0, "\(name): no independent pair was found to check")
    }

    @Test(.enabled(if: Tier.fast), arguments: ExploreTests.raceConfigs)
    func independentStepsOfARaceConfigCommuteInAFewRuns(_ name: String) async throws {
        try await Self.raceConfig(name, full: false)
    }

    @Test(.enabled(if: Tier.full, "full tier: 4 runs and 200 pairs per config"), arguments: ExploreTests.raceConfigs)
    func independentStepsOfARaceConfigCommute(_ name: String) async throws {
        try await Self.raceConfig(name, full: true)
    }

    static func generatedPrograms(count: Int) async {
        var checked = 0
        var programs = 0
        for seed in UInt64(1)...UInt64(count) {
            guard let s = ProgramGenerator.scenario(seed: seed) else { continue }
            programs += 1
            let r = await CommutativityAudit.sample(s, seed: seed, runs: 1, every: 2, maxPairs: 40)
            checked += r.checked
            #expect(r.failures.isEmpty, "program \(seed): \(r.failures.prefix(3))\n\(ProgramGenerator.text(seed: seed))")
        }
        #expect(programs >= count * 9 / 10)
        #expect(checked > programs)
    }

    @Test(.enabled(if: Tier.fast))
    func independentStepsOf24GeneratedProgramsCommute() async {
        await Self.generatedPrograms(count: 24)
    }

    @Test(.enabled(if: Tier.full, "full tier: 80 programs"))
    func independentStepsOfGeneratedProgramsCommute() async {
        await Self.generatedPrograms(count: Tier.deep ? 220 : 80)
    }
}

extension CommutativityTests {
    /// The audit must fire where an access goes unrecorded. Forgetting the seqcount, fork's
    /// `raw_write_seqcount_begin` and GUP-fast's `raw_read_seqcount` look independent, and in
    /// one order GUP-fast goes slow; forgetting PTEs, a store through a writable PTE and
    /// mprotect's write-protect of it look independent, and in one order the store faults.
    @Test(.enabled(if: Tier.fast), arguments: [
        (PointObject.seqcount(mm: 0), #"F: [ { op: "fork", proc: "A", child: "C" } ], G: [ { op: "pin", proc: "A", addr: "0x10000", id: "g", flags: ["fast", "longterm", "write"] } ]"#),
        (PointObject.pte(PTESlot(table: 0, index: 0)), #"W: [ { op: "write", proc: "A", addr: "0x10000", value: 2 } ], P: [ { op: "mprotect", proc: "A", addr: "0x10000", size: "4K", prot: "r" } ]"#),
    ])
    func theAuditFindsAnUnrecordedAccess(_ forgotten: PointObject, _ threads: String) async throws {
        let text = """
        { memory: "16M",
          steps: [ { op: "mmap", proc: "A", addr: "0x10000", size: "64K", prot: "rw", map: "private-anon" },
                   { op: "write", proc: "A", addr: "0x10000", value: 1 } ],
          threads: { \(threads) } }
        """
        let s = try Scenario.decode(text: text, file: "t.json5")
        let clean = await CommutativityAudit.sample(s, seed: 3, runs: 8, every: 1, maxPairs: 400)
        #expect(clean.failures.isEmpty, "\(clean.failures.prefix(2))")
        let broken = await CommutativityAudit.sample(s, seed: 3, runs: 8, every: 1, maxPairs: 400, forgetting: forgotten)
        #expect(!broken.failures.isEmpty, "forgetting \(forgotten) hid nothing")
    }
}
