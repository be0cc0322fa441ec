import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The reduction against no reduction: for every race config and generated programs, at
/// preemption bounds 0–3 and unbounded (where both searches complete), DPOR (unbounded) and
/// BPOR (bounded) must give the same verdict as plain DFS, and, when nothing is violated,
/// the same distinct end states and outcomes. Each comparison prints the schedules both needed.
/// The fast tier runs bounds 0–1 (at most 300 schedules) on the smaller configs and 4 programs,
/// and the split search on one config and one program; the full tier (`FOLIOSIM_TESTS=full`)
/// runs bounds 0–2 and unbounded (3,000 schedules at most) on every config but the largest
/// scaling ones, 16 programs and the split search on every config and 10 programs;
/// `FOLIOSIM_TESTS_DEEP=1` adds bound 3, 300,000-schedule caps and 220 programs (hours).
/// Each check is one test per tier.
@Suite struct ReductionTests {
    static func bounds(full: Bool) -> [Int?] { Tier.deep ? [0, 1, 2, 3, nil] : full ? [0, 1, 2, nil] : [0, 1] }

    /// Explores `s` with and without reduction at `bound`; nil when either search did not
    /// complete within `cap` runs, else the differences found.
    static func compare(_ s: Scenario, bound: Int?, cap: Int, label: String, cache: StateCacheMode = .off,
                        jobs: Int? = nil) async throws -> [String]? {
        var opts = s.explore ?? ExploreOptions()
        opts.maxSchedules = cap
        opts.shrinkBudget = 20_000
        opts.strategy = .dfs(preemptionBound: bound, reduction: true)
        opts.stateCache = cache
        opts.jobs = jobs
        let reduced = try await Explorer.explore(s, options: opts)
        if let f = reduced.cache?.failure { return ["\(label): state cache: \(f)"] }
        opts.stateCache = nil
        opts.jobs = nil
        opts.strategy = .dfs(preemptionBound: bound, reduction: false)
        let plain = try await Explorer.explore(s, options: opts)
        let b = bound.map(String.init) ?? "none"
        guard reduced.complete || reduced.counterexample != nil, plain.complete || plain.counterexample != nil else {
            print("reduction \(label) bound \(b): incomplete (reduced \(reduced.runs) runs, plain \(plain.runs))")
            return nil
        }
        print("reduction\(cache == .off ? "" : " with state cache (\(cache))") \(label) bound \(b): \(reduced.counterexample?.invariant ?? "no violation"), reduced \(reduced.schedules) schedules (\(reduced.runs) runs\(reduced.cache.map { ", \($0.states) states" } ?? "")), plain \(plain.schedules)")
        var diffs: [String] = []
        if reduced.counterexample?.invariant != plain.counterexample?.invariant || reduced.counterexample?.schedule != plain.counterexample?.schedule {
            diffs.append("\(label) bound \(b): verdict \(reduced.counterexample.map { "\($0.invariant) \"\($0.schedule)\"" } ?? "none") reduced, \(plain.counterexample.map { "\($0.invariant) \"\($0.schedule)\"" } ?? "none") plain")
        }
        if reduced.counterexample == nil && plain.counterexample == nil {
            if reduced.endStateDigests != plain.endStateDigests {
                diffs.append("\(label) bound \(b): \(reduced.endStates) end states reduced, \(plain.endStates) plain")
            }
            let ro = reduced.outcomes.map { Observation.render($0.observed) }, po = plain.outcomes.map { Observation.render($0.observed) }
            if ro != po { diffs.append("\(label) bound \(b): outcomes \(ro) reduced, \(po) plain") }
        }
        return diffs
    }

    static func raceConfigs(full: Bool) -> [String] {
        ExploreTests.raceConfigs.filter { name in
            if name.hasPrefix("scaling-4w") || name.hasPrefix("scaling-5w") || name == "scaling-3w-gup.json5" { return false }
            return full || !(name.hasPrefix("scaling-") || name.contains("gup-fast.json5") || name.contains("gup-fast-") && name.hasPrefix("ryan"))
        }
    }

    /// Each reduction against plain DFS: stateless (`off`), and with the state cache in exact
    /// mode (it also stops at a hash that drifted from one computed afresh, or at two states
    /// that share a hash).
    static let caches: [StateCacheMode] = [.off, .exact]

    static func raceConfig(_ name: String, _ cache: StateCacheMode, full: Bool) async throws {
        let s = try ExploreTests.load(name)
        var compared = 0
        for bound in Self.bounds(full: full) {
            guard let diffs = try await Self.compare(s, bound: bound, cap: Tier.deep ? 300_000 : full ? 3_000 : 300, label: name, cache: cache) else { continue }
            compared += 1
            #expect(diffs.isEmpty, "\(diffs)")
        }
        #expect(compared >= (Tier.deep ? 3 : 1), "\(name): too few bounds completed to compare")
    }

    @Test(.enabled(if: Tier.fast), arguments: raceConfigs(full: false), caches)
    func aRaceConfigGivesTheSameVerdictsAndEndStatesReducedAtSmallBounds(_ name: String, _ cache: StateCacheMode) async throws {
        try await Self.raceConfig(name, cache, full: false)
    }

    @Test(.enabled(if: Tier.full, "full tier: bounds 0–2 and unbounded, every config but the largest"), arguments: raceConfigs(full: true), caches)
    func aRaceConfigGivesTheSameVerdictsAndEndStatesReduced(_ name: String, _ cache: StateCacheMode) async throws {
        try await Self.raceConfig(name, cache, full: true)
    }

    /// The fast tier's programs are ones whose bound-1 searches stay under its cap.
    static let fastPrograms: [UInt64] = [1, 2, 5, 6]

    static func generatedPrograms(_ cache: StateCacheMode, full: Bool) async throws {
        let seeds = full ? Array(UInt64(1)...UInt64(Tier.deep ? 220 : 16)) : Self.fastPrograms
        let count = seeds.count
        var compared = 0
        for seed in seeds {
            guard let s = ProgramGenerator.scenario(seed: seed) else { continue }
            for bound in Self.bounds(full: full) {
                guard let diffs = try await Self.compare(s, bound: bound, cap: Tier.deep ? 20_000 : full ? 2_000 : 300, label: "program \(seed)", cache: cache) else { continue }
                compared += 1
                #expect(diffs.isEmpty, "\(diffs)\n\(ProgramGenerator.text(seed: seed))")
            }
        }
        #expect(compared >= count * 2, "only \(compared) comparisons completed")
    }

    @Test(.enabled(if: Tier.fast), arguments: caches)
    func fourGeneratedProgramsGiveTheSameVerdictsAndEndStatesReduced(_ cache: StateCacheMode) async throws {
        try await Self.generatedPrograms(cache, full: false)
    }

    @Test(.enabled(if: Tier.full, "full tier: 16 programs (deep: 220) at bounds 0–2 and unbounded"), arguments: caches)
    func generatedProgramsGiveTheSameVerdictsAndEndStatesReduced(_ cache: StateCacheMode) async throws {
        try await Self.generatedPrograms(cache, full: true)
    }

    /// The split of `--jobs` (each subtree with the earlier threads whose first steps are
    /// independent of its own asleep at the root), unbounded: against plain DFS where that
    /// completes within the cap, and against the unsplit reduced search everywhere.
    static func splitSearch(_ cache: StateCacheMode, full: Bool) async throws {
        var againstPlain = 0, againstUnsplit = 0
        // The fast tier's config and program are ones whose unbounded plain search is short.
        let configs = full ? Self.raceConfigs(full: true) : ["gup-fast-vs-fork-v5.9.json5"]
        var scenarios: [(String, Scenario)] = try configs.map { ($0, try ExploreTests.load($0)) }
        for seed in full ? Array(UInt64(1)...UInt64(Tier.deep ? 220 : 10)) : [10] {
            if let s = ProgramGenerator.scenario(seed: seed) { scenarios.append(("program \(seed)", s)) }
        }
        for (label, s) in scenarios {
            if let diffs = try await Self.compare(s, bound: nil, cap: Tier.deep ? 300_000 : full ? 3_000 : 1_000, label: "\(label) split", cache: cache, jobs: 2) {
                againstPlain += 1
                #expect(diffs.isEmpty, "\(diffs)")
            }
            var opts = s.explore ?? ExploreOptions()
            opts.strategy = .dfs(preemptionBound: nil, reduction: true)
            opts.stateCache = cache
            opts.maxSchedules = Tier.deep ? 300_000 : full ? 3_000 : 1_000
            let one = try await Explorer.explore(s, options: opts)
            opts.jobs = 2
            let split = try await Explorer.explore(s, options: opts)
            guard one.complete, split.complete else { continue }
            againstUnsplit += 1
            #expect(split.counterexample?.invariant == one.counterexample?.invariant, "\(label)")
            #expect(split.counterexample?.schedule == one.counterexample?.schedule, "\(label)")
            if one.counterexample == nil {
                #expect(split.endStateDigests == one.endStateDigests, "\(label)")
                #expect(split.outcomes.map(\.observed) == one.outcomes.map(\.observed), "\(label)")
            }
        }
        #expect(againstPlain >= 2 && againstUnsplit >= (Tier.deep ? 100 : 2), "compared \(againstPlain) against plain, \(againstUnsplit) against the unsplit search")
    }

    @Test(.enabled(if: Tier.fast), arguments: caches)
    func theSplitSearchGivesTheSameVerdictsAndEndStatesOnAConfigAndAProgram(_ cache: StateCacheMode) async throws {
        try await Self.splitSearch(cache, full: false)
    }

    @Test(.enabled(if: Tier.full, "full tier: the split search on every config and 10 programs (deep: 220)"), arguments: caches)
    func theSplitSearchGivesTheSameVerdictsAndEndStates(_ cache: StateCacheMode) async throws {
        try await Self.splitSearch(cache, full: true)
    }

    /// Sleep sets under a preemption bound lose schedules (the reason BPOR does not use
    /// them): threads A with two steps and B with one, only A's second step and B's
    /// conflicting. At bound 0, B then A is a schedule of its own end state.
    @Test(.enabled(if: Tier.fast)) func theBoundedSearchKeepsWhatSleepSetsWouldLose() async throws {
        let text = """
        { memory: "16M",
          steps: [ { op: "mmap", proc: "A", addr: "0x10000", size: "64K", prot: "rw", map: "private-anon" },
                   { op: "write", proc: "A", addr: "0x10000", size: "64K", value: 1 } ],
          threads: { T: [ { op: "write", proc: "A", addr: "0x18000", value: 2 }, { op: "write", proc: "A", addr: "0x10000", value: 3 } ],
                     U: [ { op: "write", proc: "A", addr: "0x10000", value: 4 } ] },
          after: [ { op: "read", proc: "A", addr: "0x10000" } ] }
        """
        let s = try Scenario.decode(text: text, file: "t.json5")
        let r = try await Explorer.explore(s, options: ExploreOptions(strategy: .dfs(preemptionBound: 0, reduction: true)))
        #expect(r.outcomes.map { Observation.render($0.observed) } == ["[3]", "[4]"])
        #expect(try await Self.compare(s, bound: 0, cap: 1000, label: "a1 a2 / b1") == [])
    }
}
