import FolioSimModel
import FolioSimExplore

/// `foliosim cow-selftest`: the kernel's COW selftest (tools/testing/selftests/mm/cow.c of
/// 6.18) replayed under any rule set. The matrix, its order and numbering, the TAP lines and
/// the totals are the test's own (`main`, `run_anon_test_case`, `run_non_anon_test_case`);
/// each test runs in a fresh simulated machine (64 MiB, 64 MiB of swap) and checks what the
/// C test checks: the data seen by the child, through the pipe or through the pin. The
/// outcome follows from the rules alone; nothing in here knows what a version should print.
///
/// Modelled as in the kernel: swap, liburing (io_uring fixed buffers), gup_test, the shared
/// and huge zero pages, memfd and tmpfile, every THP size of the rule set (mTHP from 6.8,
/// else the PMD size only). Not modelled, so these rows skip with the reason: hugetlb (two
/// x86 sizes, 2 MiB and 1 GiB, as a machine with hugetlb support has them) and
/// MADV_COLLAPSE (the four anon-THP collapse cases). After each test the FolioSim invariants
/// of the rule set are checked; a violation makes the test `not ok` with the invariant named.
public enum CowSelftest {
    package enum Outcome: String, Sendable, CaseIterable {
        case pass, fail, xfail, xpass, skip
    }

    /// One TAP test.
    package struct Test: Sendable {
        package var number: Int
        /// The test case (`Basic COW after fork()`).
        package var testCase: String
        /// The memory type (`base page`, `THP (2048 kB)`), empty for the collapse cases.
        package var memoryType: String
        package var outcome: Outcome
        /// The `# …` lines the test printed before its result.
        package var messages: [String]
        package var name: String { memoryType.isEmpty ? testCase : "\(testCase) ... with \(memoryType)" }
    }

    /// The results of one run of the selftest under one semantics.
    public struct Report: Sendable {
        package var semantics: String
        package var tests: [Test]
        /// The whole TAP output, one line per element.
        public var tap: [String]
        package func count(_ o: Outcome) -> Int { tests.reduce(0) { $0 + ($1.outcome == o ? 1 : 0) } }
        /// The kernel's exit status: 0 iff every test passed, was skipped or failed as expected.
        public var exitStatus: Int32 { count(.fail) == 0 && count(.xpass) == 0 ? 0 : 1 }
    }

    /// The THP sizes the kernel's test detects under `semantics`: every anon mTHP size from 6.8
    /// (S8 = mthp), else the PMD size only.
    public static func availableSizes(_ semantics: Semantics) -> [UInt64] {
        semantics.faultOrder == .mthp ? THPSettings.anonOrders.map { Geometry.pageSize << UInt64($0) } : [Geometry.pmdSize]
    }

    /// hugetlb page sizes of an x86-64 machine, in the order the kernel lists them.
    static let hugetlbSizesKB: [UInt64] = [2048, 1_048_576]

    /// Runs the whole matrix. `sizes`: the THP sizes to test (nil: all available).
    public static func run(semanticsName: String, semantics: Semantics, sizes: [UInt64]? = nil) async -> Report {
        let available = availableSizes(semantics)
        let thpSizes = sizes.map { want in available.filter { want.contains($0) } } ?? available
        var out = TAPWriter()
        out.line("TAP version 13")
        out.line("# [INFO] FolioSim replay of cow.c (6.18.y) under \(semanticsName)")
        out.line("# [INFO] detected PMD size: \(Geometry.pmdSize / 1024) KiB")
        for s in thpSizes { out.line("# [INFO] detected THP size: \(s / 1024) KiB") }
        for h in hugetlbSizesKB { out.line("# [INFO] detected hugetlb page size: \(h) KiB") }
        let perAnon = 2 + hugetlbSizesKB.count + 6 * thpSizes.count + (thpSizes.contains(Geometry.pmdSize) ? 2 : 0)
        let plan = CowCases.anon.count * perAnon + CowCases.anonTHP.count + CowCases.nonAnon.count * (4 + hugetlbSizesKB.count)
        out.line("1..\(plan)")

        var base = THPSettings(enabled: .madvise)
        base.perOrder[Geometry.pmdOrder] = .inherit
        out.line("# [INFO] Anonymous memory tests in private mappings")
        for (desc, fn) in CowCases.anon {
            await out.test(desc, "base page", semantics, base) { e in try await CowRunners.basePage(e, swapout: false, fn) }
            await out.test(desc, "swapped out base page", semantics, base) { e in try await CowRunners.basePage(e, swapout: true, fn) }
            for s in thpSizes {
                var thp = base
                thp.perOrder[Geometry.pmdOrder] = .never
                thp.perOrder[THPSettings.order(forSize: s)!] = .always
                var runs: [CowRunners.THPRun] = [.pte, .pteSwapout, .singlePTE, .singlePTESwapout, .partialMremap, .partialShared]
                if s == Geometry.pmdSize { runs.insert(contentsOf: [.pmd, .pmdSwapout], at: 0) }
                for run in runs {
                    await out.test(desc, CowRunners.thpDesc(run, s / 1024), semantics, thp) { e in try await CowRunners.thp(e, run, s, fn) }
                }
            }
            for h in hugetlbSizesKB { out.notModelled(desc, "hugetlb (\(h) kB)", "hugetlb is not modelled by FolioSim") }
        }
        out.line("# [INFO] Anonymous THP tests")
        for desc in CowCases.anonTHP {
            await out.test(desc, "", semantics, base) { e in
                try await CowRunners.thp(e, .pmd, Geometry.pmdSize) { e, mem, _ in
                    try await e.mprotect(e.parent, mem + Geometry.pageSize, Geometry.pageSize, .read)
                    try await e.mprotect(e.parent, mem + Geometry.pageSize, Geometry.pageSize, [.read, .write])
                    e.messages.append("MADV_COLLAPSE failed: not modelled by FolioSim")
                    return .skip
                }
            }
        }
        out.line("# [RUN] Non-anonymous memory tests in private mappings")
        for (desc, fn) in CowCases.nonAnon {
            await out.test(desc, "shared zeropage", semantics, base) { e in try await CowRunners.zeropage(e, fn) }
            await out.test(desc, "memfd", semantics, base) { e in try await CowRunners.file(e, kind: .memfd, fn) }
            await out.test(desc, "tmpfile", semantics, base) { e in try await CowRunners.file(e, kind: .regular, fn) }
            await out.test(desc, "huge zeropage", semantics, base) { e in try await CowRunners.hugeZeropage(e, fn) }
            for h in hugetlbSizesKB { out.notModelled(desc, "memfd hugetlb (\(h) kB)", "hugetlb is not modelled by FolioSim") }
        }
        let skipped = out.tests.filter { $0.outcome == .skip }.count
        if skipped > 0 {
            out.line("# \(skipped) skipped test(s) detected. Consider enabling relevant config options to improve coverage.")
        }
        func n(_ o: Outcome) -> Int { out.tests.filter { $0.outcome == o }.count }
        out.line("# Totals: pass:\(n(.pass)) fail:\(n(.fail)) xfail:\(n(.xfail)) xpass:\(n(.xpass)) skip:\(skipped) error:0")
        return Report(semantics: semanticsName, tests: out.tests, tap: out.lines)
    }
}

/// Collects the TAP lines and numbers the tests as `ksft_test_result_*` does.
struct TAPWriter {
    var lines: [String] = []
    var tests: [CowSelftest.Test] = []

    mutating func line(_ s: String) { lines.append(s) }

    /// Runs one test in a fresh machine and prints `# [RUN]`, its messages and its result.
    mutating func test(_ desc: String, _ memoryType: String, _ semantics: Semantics, _ thp: THPSettings,
                       _ body: (CowEnv) async throws -> CowResult) async {
        let e = CowEnv(semantics: semantics, thp: thp)
        var t = CowSelftest.Test(number: tests.count + 1, testCase: desc, memoryType: memoryType, outcome: .fail, messages: [])
        line("# [RUN] \(t.name)")
        var result: CowResult
        do {
            result = try await body(e)
        } catch let crash as CowEnv.Crash {
            if !e.messages.contains(where: { $0.hasPrefix(crash.message) }) { e.messages.append(crash.message) }
            result = .fail
        } catch {
            e.messages.append("\(error)")
            result = .fail
        }
        e.world.currentOperation = "end of test"
        e.world.checkInvariants()
        for v in e.world.violations {
            e.messages.append("FolioSim invariant \(v.invariant) broken: \(v.detail)")
            result = .fail
        }
        t.messages = e.messages
        for m in e.messages { line("# \(m)") }
        switch result {
        case .pass: t.outcome = .pass; line("ok \(t.number) \(t.name)")
        case .fail: t.outcome = .fail; line("not ok \(t.number) \(t.name)")
        case .xfail: t.outcome = .xfail; line("ok \(t.number) # XFAIL \(t.name)")
        case .skip: t.outcome = .skip; line("ok \(t.number) # SKIP \(t.name)")
        case .skipWithMessage(let m): t.outcome = .skip; line("ok \(t.number) # SKIP \(m)")
        }
        tests.append(t)
    }

    /// A row of a memory type FolioSim does not model: skipped with the reason.
    mutating func notModelled(_ desc: String, _ memoryType: String, _ reason: String) {
        let t = CowSelftest.Test(number: tests.count + 1, testCase: desc, memoryType: memoryType, outcome: .skip, messages: [reason])
        line("# [RUN] \(t.name)")
        line("# \(reason)")
        line("ok \(t.number) # SKIP \(t.name)")
        tests.append(t)
    }
}
