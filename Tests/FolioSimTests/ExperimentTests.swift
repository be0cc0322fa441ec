import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The counts of the ready-made configs that were checked against Linux 6.18 (Experiments/host,
/// README "Fidelity") stay what the kernel does (that every config runs and meets its
/// `expect` is `EveryConfigTests`').
@Suite(.enabled(if: Tier.fast)) struct ExperimentTests {
    static let dir = packageRoot.appendingPathComponent("Experiments")

    static func configs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".json5") }.sorted()
    }

    func run(_ name: String) async throws -> RunResult {
        let s = try Scenario.load(path: Self.dir.appendingPathComponent(name).path)
        return await ExperimentRunner.run(s)
    }

    @Test func thereAreReadyConfigs() {
        let names = Self.configs()
        for required in ["quickstart.json5", "fork-snapshot.json5", "sparse-random.json5", "dontneed-half.json5",
                         "mprotect-cycle.json5", "read-then-write.json5", "seq-write-4k.json5", "seq-write-64k.json5",
                         "seq-write-2m.json5", "seq-write-all.json5"] {
            #expect(names.contains(required), "missing Experiments/\(required)")
        }
    }

    @Test func sequentialWriteUnderFourPolicies() async throws {
        let cases: [(String, Int, Int, Int)] = [("seq-write-4k.json5", 2048, 0, 0), ("seq-write-64k.json5", 128, 4, 128),
                                                ("seq-write-2m.json5", 4, 9, 4), ("seq-write-all.json5", 4, 9, 4)]
        for (name, faults, order, allocs) in cases {
            let t = try await run(name).world.totalStats
            #expect(t.faultsTotal == faults, "\(name)")
            if order > 0 { #expect(t.mthp[order].anonFaultAlloc == allocs, "\(name)") }
        }
    }

    @Test func sparseRandomMatchesTheHost() async throws {
        let t = try await run("sparse-random.json5").world.totalStats
        #expect(t.faultsTotal == 628 && t.mthp[4].anonFaultAlloc == 628 && t.mthp[4].anonFaultFallback == 0)
    }

    @Test func dontneedHalfMatchesTheHost() async throws {
        let r = try await run("dontneed-half.json5")
        let t = r.world.totalStats
        #expect(t.mthp[4].splitDeferred == 128)
        #expect(t.faultsTotal == 128 + 1024)
        #expect(Report.gauges(r.world)[4]!.1 == 128)
    }

    @Test func mprotectCycleTakesNoSecondFault() async throws {
        #expect(try await run("mprotect-cycle.json5").world.totalStats.faultsTotal == 2048)
    }

    @Test func readThenWrite() async throws {
        let t = try await run("read-then-write.json5").world.totalStats
        #expect(t.faults(.zeropage) == 2048 && t.faults(.wpCopy) == 2048 && t.faultsTotal == 4096)
    }

    @Test func pageoutMatchesTheHost() async throws {
        let t = try await run("pageout.json5").world.totalStats
        #expect(t.mthp[4].split == 128 && t.mthp[4].splitDeferred == 128 && t.mthp[4].swpoutFallback == 128)
        #expect(t.faults(.swapin) == 2048 && t.faultsTotal == 128 + 2048)
    }

    @Test func quickstartReusesAfterChildExit() async throws {
        let r = try await run("quickstart.json5")
        let p = r.world.mm(named: "P")!.stats
        #expect(p.faults(.wpReuse) == 2048 && p.cowCopiedBytes == 0)
        #expect(r.world.mms[1].stats.faultsTotal == 1024)
    }

    @Test func forkCOW64KMatchesTheHost() async throws {
        let r = try await run("fork-cow-64k.json5")
        let c = r.world.mms[1].stats, p = r.world.mms[0].stats
        #expect(c.faultsTotal == 2048 && c.mthp[4].anonFaultAlloc == 0 && c.mthp[4].splitDeferred == 0)
        #expect(p.faultsTotal == 128 + 2048 && p.cowCopiedBytes == 0)
    }

    @Test func zeroPageThenWriteMatchesTheHost() async throws {
        let t2 = try await run("read-then-write-2m.json5").world.totalStats
        #expect(t2.faults(.zeropage) == 4 && t2.faultsTotal == 8 && t2.mthp[9].anonFaultAlloc == 4)
        let t64 = try await run("read-then-write-64k.json5").world.totalStats
        #expect(t64.faultsTotal == 4096 && t64.mthp[4].anonFaultAlloc == 0)
    }

    @Test func smallVMAMatchesTheHost() async throws {
        let t = try await run("small-vma-64k.json5").world.totalStats
        #expect(t.faultsTotal == 2 && t.mthp[4].anonFaultAlloc == 1)
    }

    @Test func sameConfigSameBytes() async throws {
        for name in ["fork-snapshot.json5", "sparse-random.json5", "pageout.json5"] {
            let a = JSONWriter.write(Report.json(try await run(name)))
            let b = JSONWriter.write(Report.json(try await run(name)))
            #expect(a == b)
            let ta = Report.text(try await run(name)), tb = Report.text(try await run(name))
            #expect(ta == tb)
        }
    }
}
