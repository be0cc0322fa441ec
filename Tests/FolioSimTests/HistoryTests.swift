import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The kernel's COW selftest replayed under the kernel history: the matrix is the kernel's,
/// and the well-known facts of each era follow from the rules.
@Suite struct CowSelftestTests {
    static func run(_ preset: String, sizes: [UInt64]? = nil) async -> CowSelftest.Report {
        await CowSelftest.run(semanticsName: preset, semantics: Semantics.preset(named: preset)!, sizes: sizes)
    }

    /// Outcomes of `testCase` on the memory types whose name starts with `memoryType`.
    static func outcomes(_ r: CowSelftest.Report, _ testCase: String, _ memoryType: String) -> [CowSelftest.Outcome] {
        r.tests.filter { $0.testCase == testCase && $0.memoryType.hasPrefix(memoryType) }.map(\.outcome)
    }

    @Test(.enabled(if: Tier.full, "full tier: the whole matrix")) func matrixIsTheKernels() async {
        let r = await Self.run("v6.18")
        #expect(r.tests.count == 778)
        #expect(r.tap.first == "TAP version 13")
        #expect(r.tap.contains("1..778"))
        // Names and numbers as the kernel's own run on this host prints them.
        #expect(r.tap.contains("ok 1 Basic COW after fork() ... with base page"))
        #expect(r.tap.contains("ok 3 Basic COW after fork() ... with PTE-mapped THP (16 kB)"))
        #expect(r.tap.contains("ok 778 # SKIP R/O longterm GUP-fast pin ... with memfd hugetlb (1048576 kB)"))
        #expect(r.tap.contains("ok 45 Basic COW after fork() ... with THP (2048 kB)"))
        #expect(r.tap.last == "# Totals: pass:740 fail:0 xfail:0 xpass:0 skip:38 error:0")
    }

    @Test(.enabled(if: Tier.fast)) func beforeMTHPOnlyThePMDSizeExists() async {
        // COW-SELFTEST.md §1: a pre-6.8 x86-64 machine with 2 hugetlb sizes runs 190 tests.
        let r = await Self.run("v6.2")
        #expect(r.tests.count == 190)
        #expect(!r.tests.contains { $0.memoryType.contains("(16 kB)") })
    }

    @Test(.enabled(if: Tier.fast)) func sizesSelectTheTHPRows() async {
        let r = await Self.run("v6.18", sizes: [16 << 10])
        // 14 anon cases × (2 + 2 hugetlb + 6) + 4 collapse + 3 × 6 non-anon.
        let expected: Int = 14 * 10 + 4 + 18
        #expect(r.tests.count == expected)
    }

    @Test(.enabled(if: Tier.full, "full tier: the whole matrix")) func everyModelledCasePassesUnder618() async {
        let r = await Self.run("v6.18")
        #expect(r.count(.fail) == 0)
        #expect(r.exitStatus == 0)
        // What is skipped is exactly what is not modelled: hugetlb and MADV_COLLAPSE.
        #expect(r.tests.filter { $0.outcome == .skip }.allSatisfy {
            $0.memoryType.contains("hugetlb") || $0.testCase.contains("collapsing")
        })
    }

    @Test(.enabled(if: Tier.full, "full tier: four matrices")) func vmspliceLeakIsFixedIn59() async {
        let old = await Self.run("v5.7"), new = await Self.run("v5.9")
        let c = "vmsplice() + unmap in child"
        #expect(Self.outcomes(old, c, "base page") == [.fail])
        #expect(old.tests.first { $0.testCase == c && $0.outcome == .fail }?.messages.contains("Leak from parent into child") == true)
        #expect(Self.outcomes(new, c, "base page") == [.pass])
        #expect(Self.outcomes(new, c, "PTE-mapped THP") == [.pass])
        // The THP and swapcache forms kept the mapcount rule until 5.18 (KERNEL.md §8.1).
        #expect(Self.outcomes(new, c, "THP (2048 kB)") == [.fail])
        #expect(Self.outcomes(new, c, "swapped out base page") == [.fail])
        #expect(!Self.outcomes(await Self.run("v5.19"), c, "").contains(.fail))
    }

    @Test(.enabled(if: Tier.full, "full tier: two matrices")) func readOnlyPinOfExclusivePageIsFixedIn519() async {
        let c = "R/O GUP pin on R/O-mapped exclusive page"
        let old = await Self.run("v5.9"), new = await Self.run("v5.19")
        #expect(Self.outcomes(old, c, "base page") == [.fail])
        #expect(Self.outcomes(old, c, "PTE-mapped THP") == [.fail])
        #expect(!Self.outcomes(new, c, "").contains(.fail))
    }

    @Test(.enabled(if: Tier.full, "full tier: two matrices")) func zeroPageLongtermPinIsFixedIn62() async {
        let c = "R/O longterm GUP pin"
        let old = await Self.run("v6.1"), new = await Self.run("v6.2")
        #expect(Self.outcomes(old, c, "shared zeropage") == [.fail])
        #expect(Self.outcomes(new, c, "shared zeropage") == [.pass])
        #expect(Self.outcomes(new, c, "huge zeropage") == [.pass])
    }

    @Test(.enabled(if: Tier.fast)) func rfcRangeCopyDetachesPins() async {
        // Pinning page 0 reuses the exclusively owned folio; unsharing page 1 then copies the
        // aligned range, page 0's PTE included (KERNEL.md §2.7, §10 item 20).
        let c = "R/O GUP pin on R/O-mapped previously-shared page"
        let rfc = await Self.run("rfc2023", sizes: [64 << 10]), mainline = await Self.run("v6.15", sizes: [64 << 10])
        #expect(Self.outcomes(rfc, c, "PTE-mapped THP") == [.fail])
        #expect(rfc.tests.first { $0.testCase == c && $0.memoryType.hasPrefix("PTE-mapped") }?.messages == ["Longterm R/O pin is not reliable"])
        #expect(Self.outcomes(rfc, c, "base page") == [.pass])
        #expect(!Self.outcomes(mainline, c, "").contains(.fail))
    }

    @Test(.enabled(if: Tier.full, "full tier: every preset's matrix, twice")) func historyTableIsDeterministic() async {
        let a = await CowHistory.run(sizes: [16 << 10, 2 << 20]), b = await CowHistory.run(sizes: [16 << 10, 2 << 20])
        #expect(a.text == b.text)
        #expect(JSONWriter.write(a.json) == JSONWriter.write(b.json))
        #expect(a.reports.map(\.semantics) == Semantics.presets.map(\.name))
        #expect(a.testCases.count == 21)
    }
}

/// Presets, `--semantics`, the pin-source ops and the invariants of each era.
@Suite struct PresetTests {
    static let vmsplice = """
    { name: "vmsplice", memory: "16M",
      steps: [
        { op: "mmap", proc: "P", addr: "0x10000", size: "4K", prot: "rw", map: "private-anon" },
        { op: "write", proc: "P", addr: "0x10000", value: 1 },
        { op: "fork", proc: "P", child: "C" },
        { op: "vmsplice", proc: "C", addr: "0x10000", pipe: "p" },
        { op: "munmap", proc: "C", addr: "0x10000", size: "4K" },
        { op: "write", proc: "P", addr: "0x10000", value: 255 },
        { op: "readPipe", proc: "C", pipe: "p" },
      ] }
    """

    @Test(.enabled(if: Tier.fast)) func semanticsOverrideReplacesThePreset() throws {
        let s = try Scenario.decode(text: Self.vmsplice, file: "t", semantics: "v5.7")
        #expect(s.semantics == .v5_7 && s.semanticsName == "v5.7")
        let withSwitch = try Scenario.decode(text: #"{ semantics: { preset: "v6.18", cowCopy: "whole-folio" }, steps: [] }"#,
                                             file: "t", semantics: "v6.8")
        #expect(withSwitch.semantics.cowCopy == .wholeFolio && withSwitch.semantics.faultOrder == .mthp
                && withSwitch.semantics.anonReuse == .ae)
        #expect(throws: ConfigError.self) { _ = try Scenario.decode(text: Self.vmsplice, file: "t", semantics: "v4.0") }
    }

    @Test(.enabled(if: Tier.fast)) func pipeReturnsThePagesDataWhenRead() async throws {
        let old = await ExperimentRunner.run(try Scenario.decode(text: Self.vmsplice, file: "t", semantics: "v5.7"))
        let new = await ExperimentRunner.run(try Scenario.decode(text: Self.vmsplice, file: "t", semantics: "v5.9"))
        #expect(old.reads.map(\.data) == [[255]])
        #expect(new.reads.map(\.data) == [[1]])
        #expect(old.world.violations.isEmpty && new.world.violations.isEmpty)
    }

    @Test(.enabled(if: Tier.fast)) func clearRefsKeepsTheNextMprotectFromUpgrading() async throws {
        let text = """
        { name: "softdirty", memory: "16M",
          steps: [
            { op: "mmap", proc: "P", addr: "0x10000", size: "4K", prot: "rw", map: "private-anon" },
            { op: "write", proc: "P", addr: "0x10000", value: 1 },
            { op: "mprotect", proc: "P", addr: "0x10000", size: "4K", prot: "r" },
            %CLEAR%
            { op: "mprotect", proc: "P", addr: "0x10000", size: "4K", prot: "rw" },
          ] }
        """
        func writable(_ clear: Bool) async throws -> Bool {
            let s = try Scenario.decode(text: text.replacingOccurrences(of: "%CLEAR%", with: clear ? #"{ op: "clearRefs", proc: "P" },"# : ""), file: "t")
            let r = await ExperimentRunner.run(s)
            return r.world.readPTE(r.world.mms[0], 0x10000).isWritable
        }
        #expect(try await writable(false))
        #expect(try await !writable(true))
    }

    @Test(.enabled(if: Tier.fast)) func aeInvariantsApplyFrom519() {
        #expect(!Invariant.writablePTEImpliesExclusive.applies(under: .v5_9))
        #expect(Invariant.writablePTEImpliesExclusive.applies(under: .v5_19))
        #expect(Invariant.noLostWrite.applies(under: .v5_7))
        #expect(!Invariant.mmIDOwner.applies(under: .v6_8) && Invariant.mmIDOwner.applies(under: .v6_15))
    }

    static func experiments() throws -> [String] {
        let dir = packageRoot.appendingPathComponent("Experiments")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json5") }.sorted()
    }

    @Test(.enabled(if: Tier.full, "full tier: every config under every preset"))
    func everyExperimentRunsCleanUnderEveryPreset() async throws {
        try await Self.runClean { _, _ in true }
    }

    /// The fast tier's part: the quick start under every preset, and each other config under
    /// one preset (in turn).
    @Test(.enabled(if: Tier.fast))
    func everyExperimentRunsCleanUnderOnePresetAndTheQuickStartUnderEvery() async throws {
        try await Self.runClean { i, p in i % Semantics.presets.count == p }
        for p in Semantics.presets {
            let r = await ExperimentRunner.run(try Scenario.load(path: packageRoot.appendingPathComponent("Experiments/quickstart.json5").path, semantics: p.name))
            #expect(r.world.violations.isEmpty, "quickstart under \(p.name): \(r.world.violations.first.map { "\($0)" } ?? "")")
        }
    }

    /// Runs config `i` under preset `p` where `include(i, p)`.
    static func runClean(_ include: (Int, Int) -> Bool) async throws {
        let dir = packageRoot.appendingPathComponent("Experiments")
        let files = try experiments()
        #expect(!files.isEmpty)
        for (i, f) in files.enumerated() {
            for (k, p) in Semantics.presets.enumerated() where include(i, k) {
                let r = await ExperimentRunner.run(try Scenario.load(path: dir.appendingPathComponent(f).path, semantics: p.name))
                #expect(r.world.violations.isEmpty, "\(f) under \(p.name): \(r.world.violations.first.map { "\($0)" } ?? "")")
            }
        }
    }
}

@Suite struct HistoryDocTests {
    @Test(.enabled(if: Tier.full, "full tier: every preset's matrix")) func historyFileHoldsTheTable() async throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Experiments/history.md"), encoding: .utf8)
        let table = await CowHistory.run().markdown
        #expect(text.contains(table))
    }
}
