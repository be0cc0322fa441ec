import FolioSimModel
import FolioSimExplore

import Foundation

/// The explorer's figures in `foliosim bench`: Ryan Roberts' race explored to its bound,
/// the time to the first counterexample of an injected bug, scheduling points per second,
/// and the scaling set (2–5 writers, with and without a GUP-fast thread).
extension Bench {
    /// Ryan's race as a config: A and B share a COW page, B exits, `writers` threads of A
    /// write it, optionally a GUP-fast R/O long-term pin thread; the same text as
    /// Experiments/races/scaling-*.json5.
    package static func ryanScenario(writers: Int, gupFast: Bool, bound: Int?, inject: String? = nil) -> Scenario {
        var threads = [#"A1: [ { op: "write", proc: "A", addr: "0x10000", value: 2 } ]"#, #"B: [ { op: "exit", proc: "B" } ]"#]
        for w in 2...max(2, writers) { threads.append(#"A\#(w): [ { op: "write", proc: "A", addr: "0x10000", value: \#(w + 1) } ]"#) }
        if gupFast { threads.append(#"G: [ { op: "pin", proc: "A", addr: "0x10000", id: "g", flags: ["fast", "longterm"] } ]"#) }
        let text = """
        { name: "ryan-\(writers)w\(gupFast ? "-gup" : "")", memory: "16M",
          \(inject.map { #"semantics: { preset: "v6.18", inject: ["\#($0)"] },"# } ?? "")
          steps: [ { op: "mmap", proc: "A", addr: "0x10000", size: "64K", prot: "rw", map: "private-anon" },
                   { op: "write", proc: "A", addr: "0x10000", value: 1 },
                   { op: "fork", proc: "A", child: "B" } ],
          threads: { \(threads.joined(separator: ", ")) },
          \(gupFast ? #"after: [ { op: "checkPin", id: "g" } ],"# : "")
          explore: { strategy: "dfs", preemptionBound: \(bound.map(String.init) ?? "null") } }
        """
        return try! Scenario.decode(text: text, file: "bench")
    }

    /// MADV_PAGEOUT of a 64K folio against a GUP-fast long-term pin of one of its pages; the
    /// same text as Experiments/races/pageout-64k-vs-gup-fast.json5.
    package static func pageoutScenario() -> Scenario {
        let text = #"""
        { name: "pageout-64k-vs-gup-fast", memory: "16M", swap: "16M",
          thp: { enabled: "never", sizes: { "64K": "always" } },
          steps: [ { op: "mmap", proc: "A", addr: "0x10000", size: "64K", prot: "rw", map: "private-anon" },
                   { op: "write", proc: "A", addr: "0x10000", size: "64K", value: 1 } ],
          threads: { S: [ { op: "madvise", proc: "A", addr: "0x10000", size: "64K", advice: "pageout" } ],
                     G: [ { op: "pin", proc: "A", addr: "0x14000", id: "g", flags: ["fast", "longterm"] } ] },
          after: [ { op: "write", proc: "A", addr: "0x14000", value: 7 }, { op: "checkPin", id: "g" } ] }
        """#
        return try! Scenario.decode(text: text, file: "bench")
    }

    /// The stateful search's targets: each scenario explored unbounded with the state cache
    /// (hash compaction), stopped after `cap` runs; SPIN's state counts for its Promela model
    /// of the same race where one was measured (coarser steps, same race).
    static func statefulFigures(cap: Int, progress: (String) -> Void) async -> [BenchFigure] {
        var cases: [(Scenario, target: Double, spin: String)] = []
        for (w, target, spin) in [(2, 0.2, "203"), (3, 1, "1,250"), (4, 10, "-"), (5, 60, "-")] {
            cases.append((ryanScenario(writers: w, gupFast: false, bound: nil), target, spin))
        }
        for (w, target, spin) in [(2, 1.0, "1,737"), (3, 10, "-"), (4, 60, "73k")] {
            cases.append((ryanScenario(writers: w, gupFast: true, bound: nil), target, spin))
        }
        cases.append((pageoutScenario(), 10, "-"))
        var figures: [BenchFigure] = []
        let clock = ContinuousClock()
        for (s, target, spin) in cases {
            progress("explore: \(s.name), unbounded, state cache")
            var opts = ExploreOptions(strategy: .dfs(preemptionBound: nil, reduction: true))
            opts.stateCache = .hash
            opts.maxSchedules = cap
            let t0 = clock.now
            let r = (try? await Explorer.explore(s, options: opts)) ?? ExploreResult()
            let secs = seconds(clock.now - t0)
            let c = r.cache
            let states = c?.states ?? 0
            let verdict = r.complete ? "complete, \(r.counterexample?.invariant ?? "no violation")" : "INCOMPLETE: stopped at \(cap) runs"
            figures.append(BenchFigure(name: "stateful \(s.name), unbounded", value: secs, unit: "s",
                                       detail: "target < \(target.formatted()) s; \(verdict); \(states) states stored, \(c?.matched ?? 0) matched, "
                                           + "\(c?.transitions ?? 0) transitions, \(r.runs) runs, visited set \(String(format: "%.1f", Double(c?.memoryBytes ?? 0) / 1_048_576)) MiB "
                                           + "(\(states > 0 ? (c?.memoryBytes ?? 0) / states : 0) B a state); SPIN stored \(spin)"))
        }
        return figures
    }

    /// Explores `scenario` `repeats` times; the result and the shortest time.
    static func bestOf(_ repeats: Int, _ scenario: Scenario) async -> (ExploreResult, Double) {
        let clock = ContinuousClock()
        var r = ExploreResult()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = clock.now
            r = (try? await Explorer.explore(scenario)) ?? ExploreResult()
            best = min(best, seconds(clock.now - t0))
        }
        return (r, best)
    }

    static func exploreFigures(repeats: Int, cap: Int, progress: (String) -> Void) async -> [BenchFigure] {
        var figures: [BenchFigure] = []
        let clock = ContinuousClock()
        progress("explore: Ryan's race, order 0, bound 3")
        let ryan = ryanScenario(writers: 2, gupFast: false, bound: 3)
        let (r, ryanSecs) = await bestOf(repeats, ryan)
        figures.append(BenchFigure(name: "explore Ryan's race to preemption bound 3", value: ryanSecs * 1000, unit: "ms",
                                   detail: "\(r.schedules) schedules (\(r.runs) runs), \(r.points) points, \(r.endStates) end states, verdict \(r.counterexample?.invariant ?? "none"); best of \(max(1, repeats))"))
        figures.append(BenchFigure(name: "explorer scheduling points", value: Double(r.points) / ryanSecs / 1e6, unit: "M points/s",
                                   detail: "the run above; each run starts from a copy of the world after the config's steps"))
        progress("explore: first counterexample, skip-pte-same-after-copy")
        let bad = ryanScenario(writers: 2, gupFast: false, bound: 3, inject: "skip-pte-same-after-copy")
        let (b, badSecs) = await bestOf(repeats, bad)
        figures.append(BenchFigure(name: "first counterexample (skip-pte-same-after-copy)", value: badSecs * 1000, unit: "ms",
                                   detail: "\(b.counterexample?.invariant ?? "none") after \(b.runs) runs, shrunk with \(b.shrinkSchedules) more to \"\(b.counterexample?.schedule ?? "")\"; best of \(max(1, repeats))"))
        var setPoints = 0
        var setSecs = 0.0
        for writers in 2...5 {
            for gup in [false, true] {
                let bound = writers <= 3 ? 2 : 1
                progress("explore: scaling set, \(writers) writers\(gup ? " + GUP-fast" : ""), bound \(bound)")
                let s = ryanScenario(writers: writers, gupFast: gup, bound: bound)
                let t0 = clock.now
                let x = (try? await Explorer.explore(s)) ?? ExploreResult()
                let secs = seconds(clock.now - t0)
                setPoints += x.points
                setSecs += secs
                figures.append(BenchFigure(name: "scaling \(writers) writers\(gup ? " + GUP-fast" : "")", value: secs * 1000, unit: "ms",
                                           detail: "bound \(bound): \(x.schedules) schedules (\(x.runs) runs), \(x.points) points, \(x.endStates) end states"))
            }
        }
        figures.append(BenchFigure(name: "explorer scheduling points, scaling set", value: Double(setPoints) / setSecs / 1e6, unit: "M points/s",
                                   detail: "all eight runs above, one each"))
        figures += await statefulFigures(cap: cap, progress: progress)
        return figures
    }
}
