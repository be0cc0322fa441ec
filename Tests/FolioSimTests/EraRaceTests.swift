import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The race configs written from the kernel's history: each gives its era's verdict under
/// its own preset and the fixed verdict under the release that fixed it, with `checkPin`
/// alone (no expected values in the config).
@Suite struct EraRaceTests {
    static func explore(_ name: String, _ preset: String, bound: Int? = 2) async throws -> ExploreResult {
        let path = ExploreTests.racesDir.appendingPathComponent(name).path
        let s = try Scenario.load(path: path, semantics: preset)
        return try await Explorer.explore(s, options: ExploreOptions(strategy: .dfs(preemptionBound: bound, reduction: true)))
    }

    static func outcomes(_ r: ExploreResult) -> [String] { r.outcomes.map { Observation.render($0.observed) } }

    @Test(.enabled(if: Tier.fast), arguments: [
        // The 5.9 GUP-fast vs fork race: opened by f3c64eda3e50 (5.9), closed by 57efa1fe5957 (5.11).
        ("gup-fast-vs-fork-v5.9.json5", "v5.9", "pin-coherent"),
        ("gup-fast-vs-fork-v5.9.json5", "v5.11", "none"), ("gup-fast-vs-fork-v5.9.json5", "v6.18", "none"),
        // §8.2: a write pin loses the page to the parent's COW after fork until 5.9's early copy.
        ("write-pin-vs-fork-v5.7.json5", "v5.7", "pin-coherent"), ("write-pin-vs-fork-v5.7.json5", "v5.8", "pin-coherent"),
        ("write-pin-vs-fork-v5.7.json5", "v5.9", "none"), ("write-pin-vs-fork-v5.7.json5", "v6.18", "none"),
        // §8.3: a R/O long-term pin of a shared anon page goes stale until 5.19's unshare.
        ("ro-pin-vs-parent-write-v5.11.json5", "v5.11", "pin-coherent"), ("ro-pin-vs-parent-write-v5.11.json5", "v5.19", "none"),
        ("ro-pin-vs-parent-write-v5.11.json5", "v6.18", "none"),
    ])
    func aHistoricPinRaceHasItsErasVerdict(_ name: String, _ preset: String, _ verdict: String) async throws {
        let r = try await Self.explore(name, preset)
        #expect((r.counterexample?.invariant ?? "none") == verdict, "\(name) under \(preset)")
        if verdict == "none" {
            #expect(r.complete)
            #expect(Self.outcomes(r).allSatisfy { !$0.contains("stale") }, "\(Self.outcomes(r))")
        }
    }

    @Test(.enabled(if: Tier.fast)) func theV59RaceNeedsAPreemptionInsideFork() async throws {
        // Without a preemption fork runs wholly before or after the pin: no violation.
        let r0 = try await Self.explore("gup-fast-vs-fork-v5.9.json5", "v5.9", bound: 0)
        #expect(r0.counterexample == nil && r0.complete)
        let r = try await Self.explore("gup-fast-vs-fork-v5.9.json5", "v5.9", bound: 1)
        let cx = try #require(r.counterexample)
        #expect(cx.invariant == "pin-coherent")
        #expect(cx.preemptions == 1)
        // Fork tested the page for pins before G took it, then write-protected it.
        #expect(cx.trace.contains { $0.hasPrefix("G ") && $0.contains("B3") })
    }

    @Test(.enabled(if: Tier.fast)) func vmspliceLeaksTheParentsWriteOnlyBefore58() async throws {
        let old = try await Self.explore("vmsplice-vs-parent-write.json5", "v5.7", bound: nil)
        #expect(old.complete && old.counterexample == nil)
        #expect(Self.outcomes(old) == ["[1]", "[255]"])
        for preset in ["v5.8", "v5.9", "v5.19", "v6.18"] {
            let r = try await Self.explore("vmsplice-vs-parent-write.json5", preset, bound: nil)
            #expect(r.complete && Self.outcomes(r) == ["[1]"], "\(preset): \(Self.outcomes(r))")
        }
    }

    static let usersOwnUnmaps = ["dontneed-beside-gup-fast.json5", "munmap-beside-gup.json5", "mremap-beside-gup-fast.json5",
                                 "pin-unpin-one-thread.json5", "ryan-pageout.json5"]

    static func usersOwnUnmap(_ name: String, bound: Int) async throws {
        for preset in ["v5.7", "v5.9", "v5.11", "v5.19", "v6.1", "v6.18"] {
            let r = try await Self.explore(name, preset, bound: bound)
            #expect(r.complete, "\(name) under \(preset)")
            #expect(r.counterexample == nil, "\(name) under \(preset): \(r.counterexample?.invariant ?? "")")
        }
    }

    @Test(.enabled(if: Tier.full, "full tier: preemption bound 2"), arguments: usersOwnUnmaps)
    func aUsersOwnUnmapOrUnpinBesideAPinIsNoViolationInAnyEra(_ name: String) async throws {
        try await Self.usersOwnUnmap(name, bound: 2)
    }

    @Test(.enabled(if: Tier.fast), arguments: usersOwnUnmaps)
    func aUsersOwnUnmapOrUnpinBesideAPinIsNoViolationInAnyEraAtBound0(_ name: String) async throws {
        try await Self.usersOwnUnmap(name, bound: 0)
    }
}
