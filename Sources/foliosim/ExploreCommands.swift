import FolioSimModel
import FolioSimExplore
import FolioSimExperiments
import Foundation

let exploreUsage = """
usage: foliosim explore FILE [--json] [--strategy S] [--bound N|none] [--seed N] [--count N]
                             [--depth N] [--no-reduction] [--state-cache hash|exact|off] [--jobs N]
                             [--schedule STRING] [--all] [--ignore NAME]... [--shrink-budget N]
                             [--semantics NAME] [--shard I/N --out FILE | --merge SHARD...]

Explores the interleavings of the config's `threads` (after its `steps`, before its
`after`), checks the per-step invariants after every scheduling step and the at-rest ones
whenever no operation is in flight and when the threads are done, lists every distinct
outcome (what the `after` steps observed, with how many schedules reached it and one that
replays to it) and prints the first violation as a shrunk, replayable schedule with a trace.
Options override the config's `explore` section. Without --strategy, --schedule selects
scripted, --depth pct, --bound and --no-reduction dfs; an option the strategy in effect
does not take is an error:
  --strategy S       dfs (default), random, pct or scripted
  --bound N|none     preemption bound of dfs (default 2; none = unbounded)
  --no-reduction     dfs without any reduction (plain stateless DFS: the reference)
  --state-cache M    how reduced dfs avoids repeated work: hash (stop where a state was
                     explored already, by its 64-bit hash; DPOR keeps each state's subtree
                     summary; the default unbounded), exact (also keep full states; stop on a
                     hash collision or a hash that drifted), off (stateless DPOR with sleep
                     sets; BPOR under a bound, the default there)
  --jobs N           split dfs at its first step: one search per thread that can take it,
                     N at a time; every N prints the same (times aside)
  --shard I/N        search only shard I of that split (the subtrees of threads I, I+N, ...
                     in config order) and write them to --out FILE, for a job array
  --merge SHARD...   add up the shard files of one search and print what --jobs prints
                     (the config file comes first; give the options the shards ran with)
  --seed N           seed of random and pct (default 1)
  --count N          schedules of random and pct (default 1000)
  --depth N          pct depth (default 3)
  --schedule S       the schedule of scripted
  --all              keep exploring after a violation; report each distinct one
  --ignore NAME      do not report this invariant (repeatable)
  --shrink-budget N  schedules the shrinker may run in all (default 50000)
  --semantics NAME   \(semanticsHelp)
  --json             print one JSON object
Traces show one step per line: thread, kernel function, the step, then what the path
recorded. Locks are named per instance (A.mmap_lock, A.ptl(0x10000): the PTL guarding the
PTE of 0x10000 in A). PTEs print as pte[pfn FLAGS]: W writable, RO read-only, D dirty,
Y young (accessed), special (no struct page: the zero page), sd soft-dirty, uffd-wp,
protnone; swp[slot N excl] is a swap entry that remembers PageAnonExclusive.
Exit status: 0 the outcome matches `expect` (no `expect`: no violation), 1 it does not,
2 bad config or arguments.
"""

let replayUsage = """
usage: foliosim replay FILE SCHEDULE [--json] [--semantics NAME]

Runs the config's threads under SCHEDULE (e.g. "A1*9 B*14 A2*31": nine steps of A1, then
fourteen of B, ...; when the schedule ends the running thread continues, then the first
runnable one) and prints the trace, one line per scheduling step.
  --semantics NAME  \(semanticsHelp)
  --json            print one JSON object
Exit status: 0 no violation, 1 a violation, 2 bad config, schedule or arguments.
"""

/// What explore's command line asked for: its flags, the files it named, and the overrides
/// of the config's `explore` section.
private struct ExploreArguments {
    var json = false
    var positional: [String] = []
    var semantics: String?
    var out: String?
    var shard: (index: Int, count: Int)?
    var merge: [String]?
    var overrides = ExploreOverrides()
}

extension FolioSimCLI {
    static func loadScenario(_ file: String, semantics: String? = nil) -> Scenario {
        do {
            return try Scenario.load(path: file, semantics: semantics)
        } catch {
            fail(error.description)
        }
    }

    static func exploreCommand(_ args: [String]) async {
        var a = parseExploreArguments(args)
        let file = exploreFiles(&a)
        let scenario = loadScenario(file, semantics: a.semantics)
        guard !scenario.threads.isEmpty else { fail("\(file): threads: missing required field (explore needs concurrent threads)") }
        let opts: ExploreOptions
        do {
            opts = try (scenario.explore ?? ExploreOptions()).applying(a.overrides, threads: scenario.threads.map(\.name))
        } catch {
            fail("explore: \(error.message)")
        }
        if a.shard != nil || a.merge != nil || a.out != nil {
            await shardCommand(file, scenario, opts, shard: a.shard, merge: a.merge, out: a.out, json: a.json)
        }
        await runExplore(file, scenario, opts, json: a.json)
    }

    /// Reads explore's options; the files are left in `positional` (`--help` prints the usage
    /// and exits).
    private static func parseExploreArguments(_ args: [String]) -> ExploreArguments {
        var r = ExploreArguments()
        var i = 0
        func value(_ name: String) -> String {
            guard i + 1 < args.count else { fail("explore: \(name) expects a value") }
            i += 1
            return args[i]
        }
        func number(_ name: String, _ lo: Int, _ hi: Int) -> Int {
            let v = value(name)
            guard let n = Int(v), n >= lo, n <= hi else { fail("explore: \(name) expects an integer from \(lo) to \(hi), found \(JSONWriter.quote(v))") }
            return n
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--help", "-h": print(exploreUsage); exit(0)
            case "--json": r.json = true
            case "--no-reduction": r.overrides.noReduction = true
            case "--strategy": r.overrides.strategy = value(a)
            case "--bound": r.overrides.bound = .some(preemptionBound(value(a)))
            case "--seed": r.overrides.seed = UInt64(number(a, 0, Int.max))
            case "--count": r.overrides.count = number(a, 1, 100_000_000)
            case "--depth": r.overrides.depth = number(a, 1, 64)
            case "--schedule": r.overrides.schedule = value(a)
            case "--all": r.overrides.all = true
            case "--ignore": r.overrides.ignore.append(invariantName(value(a)))
            case "--shrink-budget": r.overrides.shrinkBudget = number(a, 0, 100_000_000)
            case "--jobs": r.overrides.jobs = number(a, 1, 1024)
            case "--state-cache": r.overrides.stateCache = stateCacheMode(value(a))
            case "--semantics": r.semantics = value(a)
            case "--out": r.out = value(a)
            case "--shard": r.shard = exploreShard(value(a))
            case "--merge": r.merge = []
            default:
                if a.hasPrefix("-") { fail("explore: unknown option \(JSONWriter.quote(a)) (see foliosim explore --help)") }
                r.positional.append(a)
            }
            i += 1
        }
        return r
    }

    /// `--bound N|none`: the preemption bound (nil: unbounded).
    private static func preemptionBound(_ b: String) -> Int? {
        if b == "none" { return nil }
        guard let n = Int(b), n >= 0, n <= 1000 else {
            fail("explore: --bound expects an integer from 0 to 1000 or \"none\", found \(JSONWriter.quote(b))")
        }
        return n
    }

    /// `--ignore NAME`: NAME, which must name an invariant.
    private static func invariantName(_ n: String) -> String {
        guard Invariant(rawValue: n) != nil else {
            fail("explore: --ignore expects an invariant name (\(Invariant.allCases.map(\.rawValue).joined(separator: ", "))), found \(JSONWriter.quote(n))")
        }
        return n
    }

    /// `--state-cache hash|exact|off`.
    private static func stateCacheMode(_ m: String) -> StateCacheMode {
        guard let c = StateCacheMode(rawValue: m) else { fail("explore: --state-cache expects hash, exact or off, found \(JSONWriter.quote(m))") }
        return c
    }

    /// `--shard I/N`, 1 ≤ I ≤ N ≤ 1024.
    private static func exploreShard(_ v: String) -> (index: Int, count: Int) {
        let parts = v.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let si = parts[0], let sn = parts[1], sn >= 1, sn <= 1024, si >= 1, si <= sn else {
            fail("explore: --shard expects I/N with 1 ≤ I ≤ N ≤ 1024, e.g. 3/8, found \(JSONWriter.quote(v))")
        }
        return (si, sn)
    }

    /// The config file: the first one named. With `--merge` the others are the shards' files
    /// (they become `merge`); without it, naming more than one is an error.
    private static func exploreFiles(_ a: inout ExploreArguments) -> String {
        let file = a.positional.first
        if a.merge != nil {
            a.merge = Array(a.positional.dropFirst())
            if file != nil && a.merge!.isEmpty { fail("explore: --merge expects the shards' files after the config file") }
        } else if a.positional.count > 1 {
            fail("explore: expected one config file, got \(JSONWriter.quote(a.positional[0])) and \(JSONWriter.quote(a.positional[1]))")
        }
        guard let file else { fail("explore: missing config file (usage: foliosim explore FILE [options])") }
        return file
    }

    /// Runs the exploration (showing its progress on a terminal), prints the report and exits
    /// with whether the outcome matches `expect`.
    private static func runExplore(_ file: String, _ scenario: Scenario, _ opts: ExploreOptions, json: Bool) async -> Never {
        let interactive = isatty(STDERR_FILENO) != 0
        let clock = ContinuousClock()
        let start = clock.now
        let result: ExploreResult
        do {
            result = try await Explorer.explore(scenario, options: opts) { schedules, points in
                guard interactive, clock.now - start > .seconds(1) else { return }
                let secs = Bench.seconds(clock.now - start)
                FileHandle.standardError.write(Data("\rexplore: \(schedules) runs, \(points) points, \(Int(Double(points) / secs)) points/s\u{1B}[K".utf8))
            }
        } catch {
            fail("\(file): explore.schedule: \(error.message)")
        }
        let secs = Bench.seconds(clock.now - start)
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if json {
            print(JSONWriter.write(ExploreReport.json(result, scenario)))
        } else {
            print(ExploreReport.text(result, scenario, opts, seconds: secs), terminator: "")
        }
        exit(ExploreReport.matches(result, scenario.expect) ? 0 : 1)
    }

    /// `explore --shard I/N --out FILE` and `explore FILE --merge SHARD...`.
    private static func shardCommand(_ file: String, _ scenario: Scenario, _ opts: ExploreOptions, shard: (index: Int, count: Int)?,
                                     merge: [String]?, out: String?, json: Bool) async -> Never {
        guard case .dfs = opts.strategy else { fail("explore: --shard and --merge apply to the dfs strategy") }
        let fingerprint = ExploreShard.fingerprint(configFile: file, scenario: scenario, options: opts)
        if let files = merge {
            guard shard == nil, out == nil else { fail("explore: --merge prints the merged search; it takes no --shard or --out") }
            var shards: [(file: String, shard: ExploreShard)] = []
            do {
                for f in files { shards.append((f, try ExploreShard.read(path: f))) }
                let result = try await Explorer.mergeShards(scenario, options: opts, fingerprint: fingerprint, shards)
                if json { print(JSONWriter.write(ExploreReport.json(result, scenario))) } else {
                    print(ExploreReport.text(result, scenario, opts, seconds: nil), terminator: "")
                }
                exit(ExploreReport.matches(result, scenario.expect) ? 0 : 1)
            } catch {
                fail(error.description)
            }
        }
        guard let shard else { fail("explore: --out goes with --shard I/N") }
        guard let out else { fail("explore: --shard needs --out FILE (the shard file that --merge reads)") }
        let result: ExploreShard
        do {
            result = try await Explorer.exploreShard(scenario, options: opts, index: shard.index, count: shard.count,
                                                     fingerprint: fingerprint, jobs: opts.jobs ?? 1)
        } catch {
            fail("explore: \(error.message)")
        }
        do {
            try result.write(to: out)
        } catch {
            fail("explore: cannot write \(JSONWriter.quote(out)): \(error.localizedDescription)")
        }
        print("explore: shard \(shard.index)/\(shard.count) of \(oneLine(scenario.name)) written to \(oneLine(out))")
        exit(0)
    }

    static func replayCommand(_ args: [String]) async {
        var json = false, semantics: String?
        var positional: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            switch a {
            case "--help", "-h": print(replayUsage); exit(0)
            case "--json": json = true
            case "--semantics":
                guard i < args.count else { fail("replay: --semantics expects a value") }
                semantics = args[i]
                i += 1
            default:
                if a.hasPrefix("-") && positional.count != 1 { fail("replay: unknown option \(JSONWriter.quote(a)) (see foliosim replay --help)") }
                positional.append(a)
            }
        }
        guard positional.count == 2 else { fail("replay: expected FILE and SCHEDULE (usage: foliosim replay FILE SCHEDULE [--json])") }
        let scenario = loadScenario(positional[0], semantics: semantics)
        guard !scenario.threads.isEmpty else { fail("\(positional[0]): threads: missing required field (replay needs concurrent threads)") }
        let result: ReplayResult
        do {
            result = try await Explorer.replay(scenario, schedule: positional[1])
        } catch {
            fail("replay: SCHEDULE: \(error.message)")
        }
        if json {
            print(JSONWriter.write(ExploreReport.replayJSON(result)))
        } else {
            print(ExploreReport.replayText(result), terminator: "")
        }
        exit(result.violation == nil ? 0 : 1)
    }
}
