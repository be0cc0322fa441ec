import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// Which faults take a VMA's own lock (`lock_vma_under_rcu`) by release
/// (`Semantics.vmaLockFaults`): 6.4–6.6 anonymous VMAs with an anon_vma, 6.7–6.9 file-backed
/// VMAs too, 6.10+ every VMA, with `vmf_anon_prepare` preparing a missing anon_vma under
/// `mmap_read_trylock` and falling back to mmap_lock (VM_FAULT_RETRY) when that fails.
@Suite(.enabled(if: Tier.fast)) struct VMALockTests {
    static let race = ExploreTests.racesDir.appendingPathComponent("vma-lock-anon-prepare-vs-munmap.json5").path

    static func lines(_ trace: [String], of thread: String) -> [String] { trace.filter { $0.hasPrefix("\(thread) ") } }

    @Test func aFirstAnonFaultPreparesItsAnonVMAUnderTheVMALockFrom610() async throws {
        let s = try Scenario.load(path: Self.race, semantics: "v6.18")
        let f = Self.lines(try await Explorer.replay(s, schedule: "F*9").trace, of: "F")
        #expect(f.contains { $0.hasPrefix("F lock_vma_under_rcu: vma_start_read") }, "\(f)")
        #expect(f.contains { $0.hasPrefix("F vmf_anon_prepare: mmap_read_trylock(A.mmap_lock)") }, "\(f)")
        #expect(f.contains { $0.hasPrefix("F vmf_anon_prepare: mmap_read_unlock(A.mmap_lock)") }, "\(f)")
        #expect(!f.contains { $0.contains("mmap_read_lock") }, "the fault never waits for mmap_lock: \(f)")
        #expect(!f.contains { $0.contains("VM_FAULT_RETRY") })
        // 6.7–6.9: the same VMA is declined after vma_start_read; the fault takes mmap_lock.
        let old = try Scenario.load(path: Self.race, semantics: "v6.8")
        let g = Self.lines(try await Explorer.replay(old, schedule: "F*9").trace, of: "F")
        let start = try #require(g.firstIndex { $0.hasPrefix("F lock_vma_under_rcu: vma_start_read") }, "\(g)")
        let locked = try #require(g.firstIndex { $0.hasPrefix("F do_user_addr_fault: mmap_read_lock(A.mmap_lock)") }, "\(g)")
        #expect(start < locked)
        #expect(!g.contains { $0.contains("vmf_anon_prepare") }, "\(g)")
    }

    @Test func aFailedTrylockRetriesTheFaultUnderMmapLock() async throws {
        // U takes mmap_lock for write (2 steps); F reaches vmf_anon_prepare's trylock in 6,
        // which fails: F drops X's lock and waits for mmap_lock, which it gets once U is done.
        let s = try Scenario.load(path: Self.race, semantics: "v6.18")
        let r = try await Explorer.replay(s, schedule: "U*2 F*6")
        #expect(r.violation == nil)
        #expect(Observation.render(r.observed) == "[2]", "\(r.observed)")
        let t = r.trace
        let retry = try #require(t.firstIndex { $0.hasPrefix("F vmf_anon_prepare: mmap_read_trylock(A.mmap_lock); no anon_vma under the VMA lock: VM_FAULT_RETRY") }, "\(t)")
        let endRead = try #require(t.firstIndex { $0.hasPrefix("F vma_end_read: up_read(vm_lock)") })
        let released = try #require(t.firstIndex { $0.hasPrefix("U do_vmi_munmap: mmap_read_unlock(A.mmap_lock)") })
        let waited = try #require(t.firstIndex { $0.hasPrefix("F do_user_addr_fault: mmap_read_lock(A.mmap_lock)") })
        #expect(retry < endRead && endRead < released && released < waited, "\(t)")
        #expect(t[waited...].contains { $0.hasPrefix("F do_anonymous_page: folio_ref_add") }, "the write is done under mmap_lock")
        #expect(t.filter { $0.hasPrefix("F vma_end_read") }.count == 1, "the VMA lock is dropped once")
        // Under v6.8 F cannot get that far beside U: it waits for mmap_lock after 4 steps.
        let old = try Scenario.load(path: Self.race, semantics: "v6.8")
        await #expect(throws: ScheduleError.self) { try await Explorer.replay(old, schedule: "U*2 F*6") }
    }

    @Test func everyScheduleOfEveryPresetDoesTheWrite() async throws {
        let unbounded = ExploreOptions(strategy: .dfs(preemptionBound: nil, reduction: true))
        for preset in ["v6.2", "v6.8", "v6.18"] {
            let s = try Scenario.load(path: Self.race, semantics: preset)
            let r = try await Explorer.explore(s, options: unbounded)
            #expect(r.complete && r.exhaustive && r.counterexample == nil, "\(preset)")
            #expect(r.outcomes.map { Observation.render($0.observed) } == ["[2]"], "\(preset)")
        }
    }

    @Test func aFaultReadsTheVMAItLockedNotTheOneItFound() async throws {
        // A1's write fault finds the VMA (mas_walk); A2 write-faults and then mprotects the
        // VMA read-only before A1's vma_start_read. A1 must see the new flags: SIGSEGV, and
        // the page keeps A2's value. (A copy of the VMA from mas_walk let A1 reuse the page
        // writable in the read-only VMA.)
        let s = try ExploreTests.load("ryan-mprotect.json5")
        let r = try await Explorer.replay(s, schedule: "A1*3 A2*21")
        let a1 = Self.lines(r.trace, of: "A1")
        let start = try #require(a1.firstIndex { $0.hasPrefix("A1 lock_vma_under_rcu: vma_start_read") }, "\(r.trace)")
        #expect(a1[start + 1].contains("SIGSEGV at 0x10000"), "\(a1)")
        #expect(!a1.contains { $0.contains("wp_page_reuse") }, "\(a1)")
        #expect(r.violation == nil)
        #expect(Observation.render(r.observed) == "[3]")
    }

    @Test func aFaultThatFoundNoAnonVMAUsesTheOneAnotherFaultPrepared() async throws {
        // Two first faults can both copy the VMA before either prepares its anon_vma (under
        // mmap_lock for read, or from 6.10 under the VMA lock and mmap_read_trylock).
        // `__anon_vma_prepare` looks again under page_table_lock: the second uses the first's.
        let f = Fixture()
        try await f.mmap(64 << 10)
        let stale = f.p.mm.peekVMAs[0]
        _ = await f.write(f.p, Fixture.base)
        let prepared = f.p.mm.peekVMAs[0].anonVMA
        #expect(stale.anonVMA == 0 && prepared != 0)
        var vmf = VMFault(vma: stale, address: Fixture.base + 0x1000, flags: [.write, .user])
        f.world.anonVMAPrepare(f.p, &vmf)
        #expect(vmf.vma.anonVMA == prepared)
        #expect(f.p.mm.peekVMAs[0].anonVMA == prepared)
        var locked = VMFault(vma: stale, address: Fixture.base + 0x2000, flags: [.write, .user, .vmaLock])
        #expect(await f.world.vmfAnonPrepare(f.p, &locked) == nil, "no VM_FAULT_RETRY: the VMA has its anon_vma")
        #expect(locked.vma.anonVMA == prepared)
    }

    static func fileConfig(_ semantics: String) -> String {
        """
        { memory: "16M", semantics: \(semantics),
          steps: [ { op: "mmap", proc: "A", addr: "0x10000", size: "64K", prot: "rw", map: "private-file", file: "lib" } ],
          threads: { R: [ { op: "read", proc: "A", addr: "0x10000" }, { op: "write", proc: "A", addr: "0x10000", value: 3 } ] },
          explore: { strategy: "dfs", preemptionBound: 0 } }
        """
    }

    @Test func fileFaultsTakeTheVMALockFrom67() async throws {
        // 6.18: the read maps the pagecache page under the VMA lock; the write's copy
        // (wp_page_copy) prepares the anon_vma under mmap_read_trylock.
        let new = Self.lines(try await Explorer.replay(try Scenario.decode(text: Self.fileConfig(#""v6.18""#), file: "f.json5"), schedule: "").trace, of: "R")
        #expect(new.filter { $0.hasPrefix("R lock_vma_under_rcu: vma_start_read") }.count == 2, "\(new)")
        #expect(!new.contains { $0.contains("mmap_read_lock") }, "\(new)")
        #expect(new.contains { $0.hasPrefix("R vmf_anon_prepare: mmap_read_trylock(A.mmap_lock)") }, "\(new)")
        // 6.7–6.9: the read also runs under the VMA lock, but the copy's vmf_anon_prepare
        // returns VM_FAULT_RETRY and the write fault is done again under mmap_lock.
        let mid = Self.lines(try await Explorer.replay(try Scenario.decode(text: Self.fileConfig(#""v6.8""#), file: "f.json5"), schedule: "").trace, of: "R")
        let retry = try #require(mid.firstIndex { $0.contains("VM_FAULT_RETRY") }, "\(mid)")
        let locked = try #require(mid.firstIndex { $0.hasPrefix("R do_user_addr_fault: mmap_read_lock(A.mmap_lock)") }, "\(mid)")
        #expect(retry < locked)
        #expect(!mid[..<retry].contains { $0.contains("mmap_read_lock") }, "the read fault took only the VMA lock: \(mid)")
        // 6.4–6.6: file-backed VMAs are not taken under the VMA lock at all.
        let first = Self.lines(try await Explorer.replay(try Scenario.decode(text: Self.fileConfig(#"{ preset: "v6.18", vmaLockFaults: "anon" }"#), file: "f.json5"), schedule: "").trace, of: "R")
        #expect(!first.contains { $0.contains("vma_start_read") }, "\(first)")
        #expect(first.filter { $0.hasPrefix("R do_user_addr_fault: mmap_read_lock(A.mmap_lock)") }.count == 2, "\(first)")
    }

    @Test func theRuleIsAConfigSwitch() throws {
        func sem(_ text: String) throws -> Semantics { try Scenario.decode(text: Self.fileConfig(text), file: "f.json5").semantics }
        #expect(try sem(#""v6.18""#).vmaLockFaults == .all)
        #expect(try sem(#""v6.15""#).vmaLockFaults == .all)
        #expect(try sem(#""v6.8""#).vmaLockFaults == .fileAndAnon)
        #expect(try sem(#"{ preset: "v6.18", vmaLockFaults: "file-and-anon" }"#).vmaLockFaults == .fileAndAnon)
        do {
            _ = try sem(#"{ preset: "v6.18", vmaLockFaults: "some" }"#)
            Issue.record("accepted vmaLockFaults: \"some\"")
        } catch {
            #expect("\(error)".contains("semantics.vmaLockFaults"), "\(error)")
            #expect("\(error)".contains("\"all\""), "\(error)")
        }
    }
}
