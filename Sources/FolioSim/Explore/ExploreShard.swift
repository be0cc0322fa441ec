/// `explore --shard I/N` and `explore --merge`: one dfs split over a job array (Slurm, GNU
/// parallel), as sweeps are. The split is `--jobs`'s: the subtrees of the root, one per thread
/// that takes the first step. Shard I of N searches the subtrees of threads I-1, I-1+N, ...
/// and keeps what each added up to; merging adds every subtree up in thread order, as
/// `--jobs` does, so the merged report is the `--jobs` report, whatever N was.
///
/// A shard keeps each subtree's figures, its end-state digests, and for its violations and
/// outcomes the schedule of the run that stands for them (not the runs themselves): the merge
/// replays those schedules, which the config and the options determine, and checks that each
/// replays to what the shard recorded.
public struct ExploreShard: Sendable, Equatable {
    /// 1-based.
    public var index: Int
    public var count: Int
    /// What made the search: the config's text, its rules and the explore options
    /// (`fingerprint(configText:scenario:options:)`). Shards merge only with the same.
    public var fingerprint: String
    public var threads: Int
    var subtrees: [SubtreeRecord]

    /// The fingerprint of a search: FNV-1a of the shard file format, the config's text, the
    /// rules in effect and the options (`--jobs` aside: it changes no result). A build with
    /// other kernel paths but the same format is caught only by the merge's replays.
    public static func fingerprint(configText: String, scenario: Scenario, options: ExploreOptions) -> String {
        var o = options
        o.jobs = nil
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (Self.format + "\u{0}" + configText + "\u{0}" + scenario.semanticsName + "\u{0}" + String(describing: o)).utf8 {
            h = (h ^ UInt64(b)) &* 0x100_0000_01b3
        }
        return String(h, radix: 16)
    }

    /// The fingerprint of a search of the config in `path` (loaded as `scenario`).
    public static func fingerprint(configFile path: String, scenario: Scenario, options: ExploreOptions) -> String {
        fingerprint(configText: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "", scenario: scenario, options: options)
    }
}

/// What one root subtree's search added up to, as a shard keeps it.
struct SubtreeRecord: Sendable, Equatable {
    struct Run: Sendable, Equatable {
        /// The violation key, or the outcome's rendering.
        var key: String
        var schedule: String
        /// Schedules that reached the outcome (1 for a violation).
        var count: Int
    }
    var thread: Int
    var runs: Int
    var pruned: Int
    var points: Int
    var complete: Bool
    var tooLong: String?
    var ends: [UInt64]
    /// The first run of each distinct violation, in the order found.
    var found: [Run]
    /// Each outcome with its best run, by rendering.
    var outcomes: [Run]
    var cache: CacheStats?
}

extension Explorer {
    /// `explore --shard I/N`: the root subtrees of threads `index-1`, `index-1+count`, ...,
    /// searched `jobs` at a time. Only a dfs splits.
    public static func exploreShard(_ scenario: Scenario, options: ExploreOptions, index: Int, count: Int,
                                    fingerprint: String, jobs: Int = 1) async throws(ScheduleError) -> ExploreShard {
        guard case .dfs = options.strategy else { throw ScheduleError(message: "--shard applies to the dfs strategy") }
        let roots = Array(stride(from: index - 1, to: scenario.threads.count, by: count))
        let parts = await searchSubtrees(scenario, options, roots: roots, jobs: jobs)
        let records = zip(roots, parts).map { $1.record(thread: $0) }
        return ExploreShard(index: index, count: count, fingerprint: fingerprint, threads: scenario.threads.count, subtrees: records)
    }

    /// `explore --merge`: the result of the search the shards split, as `--jobs` prints it.
    /// The shards (with the file each came from, for errors) must be every shard of one
    /// search of this config with these options.
    public static func mergeShards(_ scenario: Scenario, options: ExploreOptions, fingerprint: String,
                                   _ shards: [(file: String, shard: ExploreShard)]) async throws(ConfigError) -> ExploreResult {
        let opts = options
        let n = scenario.threads.count
        var byThread = [(file: String, record: SubtreeRecord)?](repeating: nil, count: n)
        var seen = Set<Int>()
        for (file, s) in shards {
            guard s.fingerprint == fingerprint, s.threads == n else {
                throw ConfigError(file: file, path: "fingerprint", message: "this shard is of another config or other explore options (run --merge with the config and options the shards ran with)")
            }
            guard s.count == shards[0].shard.count else {
                throw ConfigError(file: file, path: "count", message: "shard of \(s.count), but \(shards[0].file) is a shard of \(shards[0].shard.count)")
            }
            guard seen.insert(s.index).inserted else { throw ConfigError(file: file, path: "index", message: "shard \(s.index) is given twice") }
            for (k, r) in s.subtrees.enumerated() {
                guard r.thread >= 0, r.thread < n, (r.thread - (s.index - 1)) % s.count == 0, byThread[r.thread] == nil else {
                    throw ConfigError(file: file, path: "subtrees[\(k)].thread", message: "thread \(r.thread) is not one of shard \(s.index)/\(s.count)'s, or is in another shard too")
                }
                byThread[r.thread] = (file, r)
            }
        }
        let total = shards.first?.shard.count ?? 0
        if let missing = (1...max(1, total)).first(where: { !seen.contains($0) }) {
            throw ConfigError(file: shards.map(\.file).joined(separator: ", "), path: "", message: "merge: shard \(missing) of \(max(1, total)) is missing")
        }
        let snapshot = await Snapshot.make(scenario)
        var acc = Accumulator(scenario: scenario, opts: opts, progress: nil)
        for (t, entry) in byThread.enumerated() {
            guard let (file, r) = entry else {
                throw ConfigError(file: shards.map(\.file).joined(separator: ", "), path: "", message: "merge: no shard holds the subtree of thread \(scenario.threads[t].name)")
            }
            acc.merge(try await Accumulator(restoring: r, snapshot, opts, file: file))
        }
        var merged = await result(of: acc, snapshot, opts)
        merged.split = true
        return merged
    }
}

extension Explorer.Accumulator {
    /// What a shard keeps of this subtree's search.
    func record(thread: Int) -> SubtreeRecord {
        func sched(_ o: RunOutcome) -> String { Explorer.schedule(o.choices, scenario).description }
        return SubtreeRecord(thread: thread, runs: result.runs, pruned: result.pruned, points: result.points,
                             complete: result.complete, tooLong: result.tooLong, ends: ends.sorted(),
                             found: found.map { .init(key: $0.violationKey ?? "", schedule: sched($0), count: 1) },
                             outcomes: outcomes.keys.sorted().map { k in .init(key: k, schedule: sched(outcomes[k]!.best), count: outcomes[k]!.count) },
                             cache: result.cache)
    }

    /// A subtree's search back from its record: figures as recorded, each violation's and
    /// outcome's run replayed from its schedule (and checked against the record).
    init(restoring r: SubtreeRecord, _ snapshot: Snapshot, _ opts: ExploreOptions, file: String) async throws(ConfigError) {
        self.init(scenario: snapshot.scenario, opts: opts, progress: nil)
        result.runs = r.runs
        result.pruned = r.pruned
        result.points = r.points
        result.complete = r.complete
        result.tooLong = r.tooLong
        result.cache = r.cache
        ends = Set(r.ends)
        result.endStates = ends.count
        let names = snapshot.scenario.threads.map(\.name)
        let ignored = Set(opts.ignore)
        func replay(_ run: SubtreeRecord.Run, _ path: String) async throws(ConfigError) -> RunOutcome {
            let sched: Schedule
            do { sched = try Schedule.parse(run.schedule, threads: names) } catch {
                throw ConfigError(file: file, path: path, message: error.message)
            }
            return await Explorer.runScripted(snapshot, sched, tracing: false, maxSteps: opts.maxSteps, ignored: ignored).outcome
        }
        for (k, run) in r.found.enumerated() {
            let o = try await replay(run, "subtrees[thread \(r.thread)].found[\(k)]")
            guard o.violationKey == run.key, foundKeys.insert(run.key).inserted else {
                throw ConfigError(file: file, path: "subtrees[thread \(r.thread)].found[\(k)]", message: "the schedule does not replay to the violation recorded (another config or FolioSim build?)")
            }
            found.append(o)
        }
        for (k, run) in r.outcomes.enumerated() {
            let o = try await replay(run, "subtrees[thread \(r.thread)].outcomes[\(k)]")
            guard o.ending == .completed, Observation.render(o.observed) == run.key, run.count >= 1, outcomes[run.key] == nil else {
                throw ConfigError(file: file, path: "subtrees[thread \(r.thread)].outcomes[\(k)]", message: "the schedule does not replay to the outcome recorded (another config or FolioSim build?)")
            }
            outcomes[run.key] = (o.observed, run.count, o)
        }
    }
}
