import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// kernel-diff without the host: the step-to-syscall plan, the helper's command lines and
/// replies, the table and the verdict.
@Suite(.enabled(if: Tier.fast)) struct KernelDiffPlanTests {
    static func scenario(_ steps: String, thp: String = "") throws -> Scenario {
        try Scenario.decode(text: "{ name: \"t\", memory: \"64M\", swap: \"16M\", \(thp) steps: [ \(steps) ] }", file: "t.json5")
    }

    @Test func stepsBecomeSystemCallsAndTheRestIsSkippedWithAReason() throws {
        let s = try Self.scenario("""
            { op: "mmap", proc: "P", addr: "0x40000000", size: "64K", prot: "rw", map: "private-anon" },
            { op: "write", proc: "P", addr: "0x40000000", size: "64K", value: 7 },
            { op: "fork", proc: "P", child: "C" },
            { op: "fork", proc: "C", child: "G" },
            { op: "madvise", proc: "P", addr: "0x40000000", size: "64K", advice: "pageout" },
            { op: "pin", proc: "C", addr: "0x40000000", size: "4K", id: "p" },
            { op: "mmap", proc: "Q", addr: "0x50000000", size: "4K", prot: "r", map: "private-file", file: "f" },
            { op: "exit", proc: "C" },
            """)
        let plan = HostPlan(s, hostHasSwap: false)
        #expect(plan.steps.map(\.command) == [
            .mmap(addr: 0x4000_0000, size: 0x10000, prot: [.read, .write]),
            .write(addr: 0x4000_0000, size: 0x10000, value: 7),
            .fork(child: "C"), .fork(child: "G"), nil, nil, nil, .exit,
        ])
        #expect(plan.steps[4].skipped?.contains("swap device") == true)
        #expect(plan.steps[5].skipped?.contains("no kernel interface") == true)
        #expect(plan.steps[6].skipped?.contains("file mappings") == true)
        #expect(plan.processes == ["P", "C", "G"])
        #expect(plan.parent == ["C": "P", "G": "C"])
        #expect(plan.descendants(of: "P") == ["C", "G"])
        #expect(plan.descendants(of: "G").isEmpty)
        // With swap on the host, MADV_PAGEOUT runs.
        #expect(HostPlan(s, hostHasSwap: true).steps[4].command == .madvise(addr: 0x4000_0000, size: 0x10000, advice: .pageout))
    }

    /// An io_uring buffer's `unpin` closes the ring, in the process that registered it; a
    /// driver's pin has no such interface.
    @Test func anIOUringBufferIsReleasedByItsProcess() throws {
        let s = try Self.scenario("""
            { op: "mmap", proc: "P", addr: "0x40000000", size: "64K", prot: "rw", map: "private-anon" },
            { op: "iouringRegister", proc: "P", addr: "0x40000000", size: "8K", id: "b" },
            { op: "pin", proc: "P", addr: "0x40000000", size: "4K", id: "d" },
            { op: "unpin", id: "b" },
            { op: "unpin", id: "d" },
            """)
        let plan = HostPlan(s, hostHasSwap: false)
        #expect(plan.steps[1].command == .iouringRegister(addr: 0x4000_0000, size: 0x2000, id: "b"))
        #expect(plan.steps[3].command == .iouringRelease(id: "b"))
        #expect(plan.steps[3].process == "P")
        #expect(plan.steps[4].command == nil)
        #expect(plan.steps[4].skipped?.contains("no kernel interface") == true)
    }

    @Test func repeatedStepsBecomeOneCommandEach() throws {
        let s = try Self.scenario("""
            { op: "mmap", proc: "P", addr: "0x40000000", size: "128K", prot: "rw", map: "private-anon" },
            { op: "madvise", proc: "P", addr: "0x40008000", size: "32K", advice: "dontneed", repeat: 2, stride: "64K" },
            """)
        let plan = HostPlan(s, hostHasSwap: false)
        #expect(plan.steps.map(\.command) == [
            .mmap(addr: 0x4000_0000, size: 0x20000, prot: [.read, .write]),
            .madvise(addr: 0x4000_8000, size: 0x8000, advice: .dontneed),
            .madvise(addr: 0x4001_8000, size: 0x8000, advice: .dontneed),
        ])
        #expect(plan.steps.map(\.repetition) == [0, 0, 1])
    }

    @Test func everyCommandSurvivesItsLine() {
        let all: [HostCommand] = [
            .mmap(addr: 0x10000, size: 0x2000, prot: [.read]), .munmap(addr: 0x10000, size: 0x1000),
            .mprotect(addr: 0x10000, size: 0x1000, prot: []), .madvise(addr: 0x10000, size: 0x1000, advice: .wipeonfork),
            .mremap(addr: 0x10000, size: 0x1000, to: 0x20000), .write(addr: 0x10000, size: 0x1000, value: 4_000_000_000),
            .read(addr: 0x10000, size: 0x3000),
            .touch(addr: 0x10000, size: 0x10000, pattern: .seq, count: nil, write: true, value: 3),
            .touch(addr: 0x10000, size: 0x10000, pattern: .random(seed: 12345), count: 9, write: false, value: 0),
            .touch(addr: 0x10000, size: 0x10000, pattern: .stride(3), count: 2, write: true, value: 1),
            .vmsplice(addr: 0x10000, size: 0x2000, pipe: "p1"), .readPipe(pipe: "p1"),
            .iouringRegister(addr: 0x10000, size: 0x2000, id: "b1"), .iouringRelease(id: "b1"),
            .fork(child: "C1"), .exit, .clearRefs, .empty,
        ]
        for c in all { #expect(HostCommand(line: c.line) == c, "\(c.line)") }
        for bad in ["", "mmap 0x10", "write x y z", "touch 0x0 0x1000 zigzag - w 1", "fly"] { #expect(HostCommand(line: bad) == nil) }
    }

    @Test func repliesParseIntoMeasures() {
        let m = HostRun.parse("ok faults=130 rss=2048 mthp=4:128,1,0,0,2,0,0,0", overhead: 2)
        #expect(m.faults == 128)
        #expect(m.copied == nil)
        #expect(m.rss == 2048)
        #expect(m.mthp[4]?.anonFaultAlloc == 128)
        #expect(m.mthp[4]?.anonFaultFallback == 1)
        #expect(m.mthp[4]?.splitDeferred == 2)
        #expect(m.mthp[9] == nil)
        #expect(HostRun.parse("err mmap: File exists", overhead: 0).error == "mmap: File exists")
        #expect(HostRun.parse("ok faults=0 rss=0 mthp= data=1,255", overhead: 0).data == [1, 255])
        #expect(HostRun.parse("ok faults=0 rss=32 mthp= moved=32", overhead: 0).moved == 32)
    }

    /// The table against hand-made measures: what differs, the spread of several runs, the
    /// fork's faults left out, a step that failed on one side only.
    @Test func rowsCompareWithinTheTolerances() throws {
        let s = try Self.scenario("""
            { op: "mmap", proc: "P", addr: "0x40000000", size: "64K", prot: "rw", map: "private-anon" },
            { op: "write", proc: "P", addr: "0x40000000", size: "64K" },
            { op: "fork", proc: "P", child: "C" },
            { op: "mprotect", proc: "P", addr: "0x40000000", size: "64K", prot: "r" },
            """)
        let plan = HostPlan(s, hostHasSwap: false)
        var alloc = MTHPCounters()
        alloc.anonFaultAlloc = 1
        let sim: [StepMeasure?] = [StepMeasure(faults: 0, rss: 0), StepMeasure(faults: 1, copied: 0, rss: 16, mthp: [4: alloc]),
                                   StepMeasure(faults: 0, rss: 16), StepMeasure(faults: 0, rss: 16)]
        let run1: [StepMeasure?] = [StepMeasure(faults: 0, rss: 0), StepMeasure(faults: 16, copied: 0, rss: 16),
                                    StepMeasure(faults: 1, rss: 16), StepMeasure(error: "mprotect: Cannot allocate memory")]
        let run2: [StepMeasure?] = [StepMeasure(faults: 0, rss: 0), StepMeasure(faults: 15, copied: 0, rss: 16),
                                    StepMeasure(faults: 0, rss: 16), StepMeasure(error: "mprotect: Cannot allocate memory")]
        let rows = KernelDiff.rows(plan, sim, [run1, run2])
        func row(_ step: Int, _ metric: String) -> DiffRow? { rows.first { $0.step == step && $0.metric == metric } }
        #expect(row(1, "faults")?.differs == false)
        #expect(row(2, "faults")?.kernel == "15..16")
        #expect(row(2, "faults")?.differs == true)
        #expect(row(2, "pages copied")?.differs == false)
        // The host's runs allocated no 64K folio, FolioSim did: a row, and it differs.
        #expect(row(2, "64kB anon_fault_alloc")?.process == "system")
        #expect(row(2, "64kB anon_fault_alloc")?.differs == true)
        // A counter both left at zero gets no row.
        #expect(row(2, "64kB split") == nil)
        // Fork: the helper's own COW faults, not compared.
        #expect(row(3, "faults") == nil)
        #expect(row(3, "rss anon pages")?.differs == false)
        #expect(row(4, "result")?.kernel == "error: mprotect: Cannot allocate memory")
        #expect(row(4, "result")?.simulated == "ok")
        #expect(row(4, "result")?.differs == true)

        var r = KernelDiffResult(name: "t", host: "6.18.0", rules: "v6.18", runs: 2, discarded: [])
        r.rows = rows
        #expect(!r.agrees)
        #expect(r.text.contains("verdict: 3 of \(rows.count) counts differ"))
        r.rows = rows.filter { !$0.differs }
        #expect(r.agrees)
        #expect(r.text.contains("verdict: all \(r.rows.count) counts agree"))
    }

    @Test func theSameMeasuresOnBothSidesAgree() throws {
        let s = try Self.scenario("""
            { op: "mmap", proc: "P", addr: "0x40000000", size: "64K", prot: "rw", map: "private-anon" },
            { op: "write", proc: "P", addr: "0x40000000", size: "64K" },
            """)
        let plan = HostPlan(s, hostHasSwap: false)
        let m: [StepMeasure?] = [StepMeasure(faults: 0, rss: 0), StepMeasure(faults: 16, copied: 0, rss: 16)]
        let rows = KernelDiff.rows(plan, m, [m, m])
        #expect(rows.count == 5)
        #expect(!rows.contains { $0.differs })
    }

    /// FolioSim's side measures what `foliosim run` counts.
    @Test func theSimulatedSideCountsPerStep() async throws {
        let s = try Self.scenario("""
            { op: "mmap", proc: "P", addr: "0x40000000", size: "128K", prot: "rw", map: "private-anon" },
            { op: "write", proc: "P", addr: "0x40000000", size: "128K", value: 1 },
            { op: "fork", proc: "P", child: "C" },
            { op: "write", proc: "C", addr: "0x40000000", size: "8K", value: 2 },
            { op: "exit", proc: "C" },
            """, thp: "thp: { enabled: \"never\", sizes: { \"64K\": \"always\" } },")
        let plan = HostPlan(s, hostHasSwap: false)
        let m = await SimRun.measure(s, plan)
        #expect(m[1]?.faults == 2)
        #expect(m[1]?.rss == 32)
        #expect(m[1]?.mthp[4]?.anonFaultAlloc == 2)
        #expect(m[3]?.faults == 2)
        #expect(m[3]?.copied == 2)
        #expect(m[4]?.rss == 0)
    }

    /// An mremap moves the pages it maps: the same frames at the new address.
    @Test func theSimulatedSideCountsMovedPages() async throws {
        let s = try Self.scenario("""
            { op: "mmap", proc: "P", addr: "0x40000000", size: "64K", prot: "rw", map: "private-anon" },
            { op: "write", proc: "P", addr: "0x40000000", size: "12K", value: 1 },
            { op: "mremap", proc: "P", addr: "0x40000000", size: "64K", to: "0x50000000" },
            """)
        let m = await SimRun.measure(s, HostPlan(s, hostHasSwap: false))
        #expect(m[2]?.moved == 3)
        #expect(m[2]?.rss == 3)
        #expect(m[1]?.moved == nil)
    }
}

/// Whether this machine can run kernel-diff's host side.
enum HostKernel {
    static let helper = packageRoot.appendingPathComponent(".build/debug/foliosim").path
    static var ready: Bool {
        getuid() == 0 && access("/sys/kernel/mm/transparent_hugepage/enabled", W_OK) == 0
            && FileManager.default.isExecutableFile(atPath: helper)
    }
}

/// kernel-diff on this machine's kernel: only as root with a writable THP sysfs and the
/// `foliosim` binary built (`swift test` builds it); skipped elsewhere. Serialized: the runs
/// write the same sysfs files and read the same system-wide counters.
@Suite(.serialized, .enabled(if: Tier.fast), .enabled(if: HostKernel.ready, "needs root, a writable /sys/kernel/mm/transparent_hugepage and .build/debug/foliosim"))
struct KernelDiffHostTests {

    static func settings() -> [String] {
        let root = "/sys/kernel/mm/transparent_hugepage/"
        let names = ["enabled", "use_zero_page"] + ["16", "32", "64", "128", "256", "512", "1024", "2048"].map { "hugepages-\($0)kB/enabled" }
        return names.map { (try? String(contentsOfFile: root + $0, encoding: .utf8)) ?? "-" }
    }

    /// kernel-diff of a config under Experiments/host (or a path under Experiments/). The
    /// workloads set mTHP sizes to `always`, so while other suites of this test process
    /// fault memory the system-wide counters move: the diff waits up to a minute for them to
    /// stand still (the fast tier's other suites finish well within that).
    func diff(_ name: String, semantics: String? = nil) async throws -> KernelDiffResult {
        let path = name.contains("/") ? name : "host/\(name)"
        let s = try Scenario.load(path: packageRoot.appendingPathComponent("Experiments/\(path).json5").path, semantics: semantics)
        var options = KernelDiff.Options(repeats: 1, helper: HostKernel.helper)
        options.quietWait = 60
        return try await KernelDiff.run(s, options: options)
    }

    @Test func hostWorkloadsAgreeAndTheSettingsComeBack() async throws {
        let before = Self.settings()
        for name in ["w1b-write-64k", "w3a-read-write-4k", "w4a-fork-child-writes-64k", "w6-dontneed-half-64k", "w10-iouring-after-fork",
                     "w11-mremap-64k"] {
            let r = try await diff(name)
            let differing = r.rows.filter(\.differs).map { "\($0.stepName) \($0.summary) \($0.metric): kernel \($0.kernel), FolioSim \($0.simulated)" }
            #expect(differing.isEmpty, "\(name): \(differing)")
            #expect(r.rows.count > 3)
        }
        #expect(Self.settings() == before)
    }

    /// vmsplice, then the parent writes: what the pipe returns is compared too.
    @Test func aPipeReadIsComparedByItsData() async throws {
        let r = try await diff("./vmsplice-leak")
        let data = r.rows.first { $0.metric == "data read" }
        #expect(data?.kernel == "1")
        #expect(data?.simulated == "1")
        #expect(r.agrees, "\(r.rows.filter(\.differs).map(\.metric))")
    }

    /// A v5.19 preset on a 6.18 host: no mTHP in FolioSim, 64K folios on the host.
    @Test func anOlderKernelsRulesShowWhereTheyDiffer() async throws {
        let r = try await diff("w1b-write-64k", semantics: "v5.19")
        #expect(r.note?.contains("not the host kernel's") == true)
        #expect(!r.agrees)
        #expect(r.rows.contains { $0.metric == "64kB anon_fault_alloc" && $0.differs && $0.foliosim == 0 })
        #expect(r.rows.contains { $0.metric == "faults" && $0.step == 2 && $0.differs })
    }
}
