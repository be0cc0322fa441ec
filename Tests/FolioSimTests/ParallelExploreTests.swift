import Testing
@testable import FolioSim

/// `--jobs N`: the search split at its root prints the same for every N, and finds what
/// one search finds (the same verdict and counterexample, the same end states and outcomes).
@Suite struct ParallelExploreTests {
    @Test(arguments: ["scaling-2w.json5", "ryan-order0-skip-pte-same.json5", "gup-fast-vs-fork-v5.9.json5"],
          [2, nil] as [Int?])
    func everyJobCountPrintsTheSame(_ name: String, _ bound: Int?) async throws {
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
}
