import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The state hash: canonical names, incremental upkeep, and exact mode's alarms.
@Suite struct StateCacheTests {
    /// Two threads each copy a COW page (one allocation each). Run in either order they end
    /// alike, though each order hands out the frames in the other order: the raw states
    /// differ, the canonical hashes agree; a third order that leaves other data differs.
    @Test(.enabled(if: Tier.fast)) func twoOrdersThatAllocateDifferentlyAndEndAlikeHashAlike() async throws {
        let text = """
        { memory: "16M",
          steps: [ { op: "mmap", proc: "A", addr: "0x10000", size: "64K", prot: "rw", map: "private-anon" },
                   { op: "write", proc: "A", addr: "0x10000", size: "64K", value: 1 },
                   { op: "fork", proc: "A", child: "B" } ],
          threads: { T: [ { op: "write", proc: "A", addr: "0x10000", value: 2 } ],
                     U: [ { op: "write", proc: "A", addr: "0x11000", value: 3 } ] } }
        """
        let s = try Scenario.decode(text: text, file: "t.json5")
        let snapshot = await Snapshot.make(s)
        func run(_ first: Int) async -> (UInt64?, [(key: UInt64, value: UInt64)]) {
            var state: [(key: UInt64, value: UInt64)] = []
            let o = await Explorer.runOnce(snapshot, tracing: false, maxSteps: 1000, hashing: true, choose: { ex, en, _ in
                en.contains(first) ? first : en.first
            }, inspect: { ex, _ in
                if ex.threads.allSatisfy({ if case .done = $0.status { true } else { false } }) { state = ex.world.stateObjects() }
            })
            return (o.stateHash, state)
        }
        let (h1, raw1) = await run(0)
        let (h2, raw2) = await run(1)
        #expect(h1 != nil && h1 == h2)
        #expect(!World.differingObjects(raw1, raw2).isEmpty, "the two orders should pick different frames")

        let other = try Scenario.decode(text: text.replacingOccurrences(of: "value: 3", with: "value: 4"), file: "t.json5")
        let o3 = await Explorer.runOnce(await Snapshot.make(other), tracing: false, maxSteps: 1000, hashing: true) { _, en, _ in en.first }
        #expect(o3.stateHash != nil && o3.stateHash != h1)
    }

    /// Exact mode notices a write that escaped the access log: with the records of page
    /// writes dropped (the audit's test hook), the kept hash drifts from a fresh one.
    @Test(.enabled(if: Tier.fast)) func exactModeStopsWhenAWriteEscapesTheLog() async throws {
        let s = try ExploreTests.load("ryan-order0.json5")
        let snapshot = await Snapshot.make(s)
        for forgetting in [nil, PointObject.page(PFN(0)).key >> 56] as [UInt64?] {
            let cache = StateCache(mode: .exact, bounded: false)
            _ = await Explorer.runOnce(snapshot, tracing: false, maxSteps: 1000, hashing: true, choose: { ex, en, _ in
                ex.log.forgottenKind = forgetting
                _ = cache.visit(ex, preemptions: 0, last: -1)
                return en.first
            })
            if forgetting == nil {
                #expect(cache.failure == nil)
            } else {
                #expect(cache.failure?.contains("escaped the access log") == true, "\(cache.failure ?? "no failure")")
            }
        }
    }

    /// The summary explore prints with a cache, and the JSON keys.
    @Test(.enabled(if: Tier.fast)) func aCachedSearchReportsItsStates() async throws {
        let s = try ExploreTests.load("ryan-order0.json5")
        var opts = ExploreOptions(strategy: .dfs(preemptionBound: 1, reduction: true))
        opts.stateCache = .hash
        let r = try await Explorer.explore(s, options: opts)
        let c = try #require(r.cache)
        #expect(c.states > 0 && c.matched > 0 && c.transitions >= c.states && c.memoryBytes > 0)
        let json = JSONWriter.write(ExploreReport.json(r, s), indent: nil)
        for key in ["\"states\"", "\"matched\"", "\"transitions\"", "\"memoryBytes\"", "\"complete\"", "\"result\""] { #expect(json.contains(key)) }
        opts.stateCache = nil
        #expect(try await Explorer.explore(s, options: opts).cache == nil)
    }

    /// `random` and `pct` report the distinct states their schedules passed through: the
    /// same seed the same figure, more schedules more states; no more end states than the
    /// exhaustive search finds; the exhaustive search reports its states, not coverage.
    @Test(.enabled(if: Tier.fast), arguments: ["random", "pct"])
    func randomAndPCTReportCoverage(_ strategy: String) async throws {
        let s = try ExploreTests.load("scaling-2w.json5")
        func run(_ count: Int) async throws -> ExploreResult {
            let opts = ExploreOptions(strategy: strategy == "random" ? .random(seed: 7, count: count) : .pct(seed: 7, depth: 3, count: count))
            return try await Explorer.explore(s, options: opts)
        }
        let few = try await run(20), again = try await run(20), many = try await run(200)
        let n = try #require(few.distinctStates)
        #expect(n > 20 && again.distinctStates == n)
        #expect(try #require(many.distinctStates) > n)
        var opts = ExploreOptions(strategy: .dfs(preemptionBound: nil, reduction: true))
        opts.stateCache = .hash
        let all = try await Explorer.explore(s, options: opts)
        #expect(all.distinctStates == nil)
        #expect(many.endStates <= all.endStates)
        let json = JSONWriter.write(ExploreReport.json(few, s), indent: nil)
        #expect(json.contains("\"distinctStates\":\(n)"))
    }

    /// Unbounded, a reduced search keeps a state cache unless told `off`; under a bound it
    /// keeps none unless told `hash`. Both give the same verdict and end states.
    @Test(.enabled(if: Tier.full, "full tier: scaling-2w unbounded"))
    func theCacheIsTheUnboundedDefault() async throws {
        try await Self.cacheIsTheUnboundedDefault(try ExploreTests.load("scaling-2w.json5"))
    }

    /// The fast tier's part, on a fork beside a fault.
    @Test(.enabled(if: Tier.fast))
    func theCacheIsTheUnboundedDefaultForAForkBesideAFault() async throws {
        try await Self.cacheIsTheUnboundedDefault(try Scenario.decode(text: ExploreTests.forkBesideAFault, file: "t.json5"))
    }

    static func cacheIsTheUnboundedDefault(_ s: Scenario) async throws {
        func run(_ bound: Int?, _ cache: StateCacheMode?) async throws -> ExploreResult {
            var opts = ExploreOptions(strategy: .dfs(preemptionBound: bound, reduction: true))
            opts.stateCache = cache
            return try await Explorer.explore(s, options: opts)
        }
        let unbounded = try await run(nil, nil), stateless = try await run(nil, .off)
        #expect(unbounded.cache != nil && stateless.cache == nil)
        #expect(unbounded.endStateDigests == stateless.endStateDigests && unbounded.counterexample == nil && stateless.counterexample == nil)
        #expect(try await run(1, nil).cache == nil)
        #expect(try await run(1, .hash).cache != nil)
        #expect(ExploreReport.strategyName(.dfs(preemptionBound: nil, reduction: true), cache: ExploreOptions(strategy: .dfs(preemptionBound: nil, reduction: true)).effectiveStateCache)
                .contains("state cache (hash)"))
    }

    /// Item 7 of the stateful-search issue: with the cache in either mode and without it, an
    /// unbounded search prints the same verdict, counterexample, outcomes and end states (the
    /// figures of work differ; nothing else may).
    @Test(.enabled(if: Tier.full, "full tier: unbounded searches"),
          arguments: ["scaling-2w.json5", "ryan-order0-skip-pte-same.json5", "gup-fast-vs-fork-v5.9.json5", "two-faults-one-block.json5"])
    func everyCacheModeReportsTheSame(_ name: String) async throws {
        let s = try ExploreTests.load(name)
        var opts = s.explore ?? ExploreOptions()
        opts.strategy = .dfs(preemptionBound: nil, reduction: true)
        var seen: [String] = []
        for mode in [StateCacheMode.hash, .exact, .off] {
            opts.stateCache = mode
            let r = try await Explorer.explore(s, options: opts)
            #expect(r.complete, "\(name) \(mode)")
            let cx = r.violations.map { "\($0.invariant) \($0.function) \($0.schedule)\n\($0.trace.joined(separator: "\n"))" }
            seen.append("\(cx) \(r.endStateDigests) \(r.outcomes.map { Observation.render($0.observed) })")
        }
        #expect(seen[0] == seen[1] && seen[1] == seen[2], "\(name): \(seen)")
        #expect(name.contains("skip") || name.contains("v5.9") ? seen[0].hasPrefix("[\"") : seen[0].hasPrefix("[] "))
    }
}

