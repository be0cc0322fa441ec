import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// `--jobs N`: the search split at its root prints the same for every N, and finds what
/// one search finds (the same verdict and counterexample, the same end states and outcomes).
@Suite struct ParallelExploreTests {
    @Test(.enabled(if: Tier.full, "full tier: three configs, bound 2 and unbounded"),
          arguments: ["scaling-2w.json5", "ryan-order0-skip-pte-same.json5", "gup-fast-vs-fork-v5.9.json5"], [2, nil] as [Int?])
    func everyJobCountPrintsTheSame(_ name: String, _ bound: Int?) async throws {
        try await Self.jobCounts(name, bound)
    }

    @Test(.enabled(if: Tier.fast))
    func everyJobCountPrintsTheSameAtBound1() async throws {
        try await Self.jobCounts("ryan-order0-skip-pte-same.json5", 1)
    }

    static func jobCounts(_ name: String, _ bound: Int?) async throws {
        let s = try ExploreTests.load(name)
        var opts = s.explore ?? ExploreOptions()
        opts.strategy = .dfs(preemptionBound: bound, reduction: true)
        let single = try await Explorer.explore(s, options: opts)
        var texts: [String] = []
        for jobs in [1, 2, 3] {
            opts.jobs = jobs
            let r = try await Explorer.explore(s, options: opts)
            texts.append(ExploreReport.text(r, s, opts, seconds: 0) + JSONWriter.write(ExploreReport.json(r, s), indent: nil))
            #expect(r.counterexample?.invariant == single.counterexample?.invariant)
            #expect(r.counterexample?.schedule == single.counterexample?.schedule)
            if single.counterexample == nil {
                #expect(r.endStateDigests == single.endStateDigests)
                #expect(r.outcomes.map(\.observed) == single.outcomes.map(\.observed))
            }
        }
        #expect(texts[0] == texts[1] && texts[1] == texts[2])
        #expect(texts[0].contains("split at the first step"))
    }

    /// `--shard I/N` then `--merge`: for every N the merged report is the `--jobs` report
    /// (time aside), also through the shard files' JSON; a violation found in a shard is
    /// replayed and shrunk at the merge.
    @Test(.enabled(if: Tier.full, "full tier: unbounded searches"), arguments: ["scaling-2w.json5", "ryan-order0-skip-pte-same.json5"])
    func shardsMergeToTheJobsReport(_ name: String) async throws {
        let s = try ExploreTests.load(name)
        var opts = s.explore ?? ExploreOptions()
        opts.strategy = .dfs(preemptionBound: nil, reduction: true)
        opts.jobs = 2
        let whole = try await Explorer.explore(s, options: opts)
        let expected = ExploreReport.text(whole, s, opts, seconds: nil) + JSONWriter.write(ExploreReport.json(whole, s), indent: nil)
        for n in [1, 2, 3, 5] {
            var shards: [(file: String, shard: ExploreShard)] = []
            for i in 1...n {
                let sh = try await Explorer.exploreShard(s, options: opts, index: i, count: n, fingerprint: "f")
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("foliosim-shard-\(name)-\(i)-of-\(n).json").path
                try sh.write(to: file)
                let back = try ExploreShard.read(path: file)
                #expect(back == sh)
                shards.append((file, back))
            }
            let merged = try await Explorer.mergeShards(s, options: opts, fingerprint: "f", shards.reversed())
            #expect(ExploreReport.text(merged, s, opts, seconds: nil) + JSONWriter.write(ExploreReport.json(merged, s), indent: nil) == expected, "N = \(n)")
        }
        #expect(name.contains("skip") == (whole.counterexample != nil))
    }

    /// A merge refuses shards of another search, a shard given twice and a missing shard,
    /// each with an error that names the file and field.
    @Test(.enabled(if: Tier.fast)) func aMergeRefusesShardsThatDoNotMakeOneSearch() async throws {
        let s = try ExploreTests.load("scaling-2w.json5")
        var opts = s.explore ?? ExploreOptions()
        opts.strategy = .dfs(preemptionBound: nil, reduction: true)
        let a = try await Explorer.exploreShard(s, options: opts, index: 1, count: 2, fingerprint: "f")
        let b = try await Explorer.exploreShard(s, options: opts, index: 2, count: 2, fingerprint: "f")
        func message(_ shards: [(file: String, shard: ExploreShard)]) async -> String? {
            do {
                _ = try await Explorer.mergeShards(s, options: opts, fingerprint: "f", shards)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(await message([("a", a), ("b", b)]) == nil)
        #expect(await message([("a", a)])?.contains("shard 2 of 2 is missing") == true)
        #expect(await message([("a", a), ("a2", a)]) == "a2: index: shard 1 is given twice")
        var other = b
        other.fingerprint = "g"
        #expect(await message([("a", a), ("b", other)])?.hasPrefix("b: fingerprint: this shard is of another config") == true)
        var tampered = b
        tampered.subtrees[0].outcomes[0].key = "[7]"
        #expect(await message([("a", a), ("b", tampered)])?.hasPrefix("b: subtrees[thread 1].outcomes[0]: the schedule does not replay") == true)
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("foliosim-shard-bad.json").path
        try #"{ "format": "foliosim explore shard 1", "shard": 3, "count": 2 }"#.write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError(file: bad, path: "shard", message: "expected a whole number from 1 to 2")) { try ExploreShard.read(path: bad) }
    }
}
