import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The incremental checker: it agrees with the full check on every ready-made experiment
/// under every preset (the audit compares both after every step, and every change must have
/// been noted), and a step's check costs what the step changed.
@Suite struct IncrementalCheckTests {
    static let dir = packageRoot.appendingPathComponent("Experiments")

    static func configs() -> [String] {
        let fm = FileManager.default
        let top = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".json5") }
        let races = ((try? fm.contentsOfDirectory(atPath: dir.appendingPathComponent("races").path)) ?? [])
            .filter { $0.hasSuffix(".json5") }.map { "races/" + $0 }
        return (top + races).sorted()
    }

    static let presets = ["v5.7", "v6.1", "v6.18"]

    @Test(.enabled(if: Tier.full, "full tier: every config under three presets"), arguments: configs())
    func agreesWithTheFullCheck(_ name: String) async throws {
        try await Self.agree(name, presets: Self.presets)
    }

    /// The fast tier's part: config `i` (in name order) under preset `i mod 3`.
    @Test(.enabled(if: Tier.fast), arguments: configs())
    func agreesWithTheFullCheckUnderOnePreset(_ name: String) async throws {
        let i = Self.configs().firstIndex(of: name)!
        try await Self.agree(name, presets: [Self.presets[i % Self.presets.count]])
    }

    static func agree(_ name: String, presets: [String]) async throws {
        for preset in presets {
            let s = try Scenario.load(path: Self.dir.appendingPathComponent(name).path, semantics: preset)
            let audited = await ExperimentRunner.run(s, checks: .audit)
            let full = await ExperimentRunner.run(s, checks: .full)
            #expect(audited.world.auditFailures.isEmpty, "\(name) \(preset): \(audited.world.auditFailures.prefix(3))")
            #expect(audited.world.violations.map(\.description) == full.world.violations.map(\.description), "\(name) \(preset)")
            #expect(Report.text(audited) == Report.text(full), "\(name) \(preset)")
            // Every check the audit compared was incremental: none needed the full walk, except
            // the one that found the first violation (a finding always falls back, to report
            // from the full walk; later checks are full), and one known conservative case:
            // fork of a page already mapped read-only clears its AE bit under a parent entry
            // that fork does not rewrite, and the check does not tell a read-only unchanged
            // entry from a writable one (mprotect-fork-gup-fast run in order).
            let known = name == "races/mprotect-fork-gup-fast.json5" ? 1 : 0
            #expect(audited.world.checkCounts.fallback <= (full.world.violations.isEmpty ? known : 1), "\(name) \(preset)")
        }
    }

    /// A 1 GiB mapping written in 64 steps of 16 MiB: each check revisits the 8 units and
    /// 4096 pages the step wrote (plus the step's page tables), not the whole mapping.
    @Test(.enabled(if: Tier.full, "full tier: a 1 GiB mapping"))
    func aWriteInSixtyFourStepsIsNotSixtyFourFullScans() async throws {
        let s = try Scenario.decode(text: """
            { name: "w64", memory: "2G", thp: { enabled: "never" },
              steps: [ { op: "mmap", proc: "P", addr: "0x40000000", size: "1G", prot: "rw", map: "private-anon" },
                       { op: "write", proc: "P", addr: "0x40000000", size: "16M", repeat: 64, stride: "16M" } ] }
            """, file: "w64.json5")
        let r = await ExperimentRunner.run(s)
        let w = r.world
        #expect(w.violations.isEmpty)
        #expect(w.checkCounts.incremental == 64 && w.checkCounts.fallback == 0 && w.checkCounts.full == 1)
        // The first check (after mmap) has no page table to walk; the first write's check
        // walks the 512 units of the PMD table that step created, each later one the 8 units
        // it wrote (the clean-clone full tier measured 1016).
        #expect(w.checkWork.units == 512 + 63 * 8)
        // Each step: the 8 pages of its new PTE tables; its 4096 new folios, each mapped
        // once with mapcount and refcount 1, are settled by the unit pass and skip the folio
        // pass (`ChangeWatch.settles`). The first check also sees the zero page and the upper
        // tables' pages, the first step the PMD table's page (the clean-clone full tier
        // measured 516; 262,660 before pages were settled).
        #expect(w.checkWork.folios == 64 * 8 + 4, "\(w.checkWork.folios)")

        let full = await ExperimentRunner.run(s, checks: .full)
        #expect(full.world.checkWork.units == 64 * 512)
        #expect(Report.text(full) == Report.text(r))
    }

    /// Fork of a written range, then the child writes a quarter per step: the parent's pages
    /// lose a mapping each step without their own PTEs changing, which needs no full check.
    @Test(.enabled(if: Tier.fast)) func forkThenChildWritesStaysIncremental() async throws {
        let s = try Scenario.decode(text: """
            { name: "fork", memory: "256M", thp: { enabled: "never" },
              steps: [ { op: "mmap", proc: "P", addr: "0x40000000", size: "16M", prot: "rw", map: "private-anon" },
                       { op: "write", proc: "P", addr: "0x40000000", size: "16M" },
                       { op: "fork", proc: "P", child: "C" },
                       { op: "write", proc: "C", addr: "0x40000000", size: "4M", value: 2, repeat: 4, stride: "4M" },
                       { op: "write", proc: "P", addr: "0x40000000", size: "16M", value: 3 },
                       { op: "exit", proc: "C" } ] }
            """, file: "fork.json5")
        let r = await ExperimentRunner.run(s, checks: .audit)
        #expect(r.world.violations.isEmpty && r.world.auditFailures.isEmpty, "\(r.world.auditFailures.prefix(3))")
        #expect(r.world.checkCounts.fallback == 0)
    }

    /// 200 children forked, each writing a page and exiting: a check revisits the parent and
    /// the processes that came or went since the last one, not every process that lived.
    @Test(.enabled(if: Tier.fast)) func aCheckRevisitsTheLiveProcesses() async throws {
        let f = Fixture(memory: 64 << 20)
        f.world.checkStrategy = .audit
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 1 << 20, 1)
        #expect(f.violated().isEmpty)
        for i in 0..<200 {
            let c = try await f.world.fork(f.p, childName: "C\(i)")
            #expect(f.violated().isEmpty)
            await f.write(c, Fixture.base, Geometry.pageSize, 2)
            #expect(f.violated().isEmpty)
            await f.world.exitMM(c)
            #expect(f.violated().isEmpty)
        }
        #expect(f.world.auditFailures.isEmpty && f.world.checkCounts.fallback == 0, "\(f.world.auditFailures.prefix(3))")
        // Each of the 600 incremental checks revisits the parent and the child alive at it or
        // gone since the last (not up to 201 processes); the audit's full checks, one a
        // check, walk the live ones only.
        #expect(f.world.checkCounts.incremental == 600 && f.world.checkCounts.full == 601)
        #expect(f.world.checkWork.mms <= 600 * 2 + 601 * 2, "\(f.world.checkWork.mms)")
    }

    /// A step that changes more frames in use than an eighth of memory (at least 65536) stops
    /// noting them and is checked in full: fork of 128 Ki pages, and the child's writes.
    @Test(.enabled(if: Tier.full, "full tier: a 512 MiB fork"))
    func aStepThatChangesMuchIsCheckedInFull() async throws {
        let s = try Scenario.decode(text: """
            { name: "big", memory: "2G", thp: { enabled: "never" },
              steps: [ { op: "mmap", proc: "P", addr: "0x40000000", size: "512M", prot: "rw", map: "private-anon" },
                       { op: "write", proc: "P", addr: "0x40000000", size: "512M" },
                       { op: "fork", proc: "P", child: "C" },
                       { op: "write", proc: "C", addr: "0x40000000", size: "512M", value: 2 },
                       { op: "write", proc: "C", addr: "0x40000000", size: "16M", value: 3 } ] }
            """, file: "big.json5")
        let r = await ExperimentRunner.run(s, checks: .audit)
        #expect(r.world.violations.isEmpty && r.world.auditFailures.isEmpty, "\(r.world.auditFailures.prefix(3))")
        let c = r.world.checkCounts
        #expect(c.overflow == 2 && c.incremental == 2 && c.fallback == 0, "\(c)")
    }

    /// A bug found after an incremental check passed is reported exactly as the full check
    /// reports it (the incremental check hands over to it).
    @Test(.enabled(if: Tier.fast)) func aLostWriteInAnUntouchedMappingIsCaught() async throws {
        let f = Fixture(memory: 64 << 20)
        f.world.checkStrategy = .incremental
        try await f.mmap(4 << 20)
        await f.write(f.p, Fixture.base, 4 << 20, 1)
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(f.violated().isEmpty)
        await f.write(c, Fixture.base + (2 << 20), 4096, 2)
        // Corrupt a page that only the parent's untouched units map.
        f.world.memory.setData(f.page(f.p, Fixture.base + 0x5000)!, 9)
        #expect(f.violated() == ["no-lost-write", "no-lost-write"])
        #expect(f.world.checkCounts.fallback == 1)
    }
}
