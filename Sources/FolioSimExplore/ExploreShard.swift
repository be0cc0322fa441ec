import FolioSimModel

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
    package var index: Int
    package var count: Int
    /// What made the search: the config's text, its rules and the explore options
    /// (`fingerprint(configText:scenario:options:)`). Shards merge only with the same.
    package var fingerprint: String
    package var threads: Int
    package var subtrees: [SubtreeRecord]
    package init(index: Int, count: Int, fingerprint: String, threads: Int, subtrees: [SubtreeRecord]) {
        self.index = index; self.count = count; self.fingerprint = fingerprint; self.threads = threads; self.subtrees = subtrees
    }
}

/// What one root subtree's search added up to, as a shard keeps it.
package struct SubtreeRecord: Sendable, Equatable {
    package struct Run: Sendable, Equatable {
        /// The violation key, or the outcome's rendering.
        package var key: String
        package var schedule: String
        /// Schedules that reached the outcome (1 for a violation).
        package var count: Int
        package init(key: String, schedule: String, count: Int) {
            self.key = key; self.schedule = schedule; self.count = count
        }
    }
    package var thread: Int
    package var runs: Int
    package var pruned: Int
    package var points: Int
    package var complete: Bool
    package var tooLong: String?
    package var ends: [UInt64]
    /// The first run of each distinct violation, in the order found.
    package var found: [Run]
    /// Each outcome with its best run, by rendering.
    package var outcomes: [Run]
    package var cache: CacheStats?
    package init(thread: Int, runs: Int, pruned: Int, points: Int, complete: Bool, tooLong: String?, ends: [UInt64], found: [Run], outcomes: [Run], cache: CacheStats?) {
        self.thread = thread; self.runs = runs; self.pruned = pruned; self.points = points; self.complete = complete; self.tooLong = tooLong; self.ends = ends; self.found = found; self.outcomes = outcomes; self.cache = cache
    }
}

extension Explorer {
    /// `explore --shard I/N`: the root subtrees of threads `index-1`, `index-1+count`, ...,
    /// searched `jobs` at a time. Only a dfs splits.
    public static func exploreShard(_ program: any ExplorableProgram, options: ExploreOptions, index: Int, count: Int,
                                    fingerprint: String, jobs: Int = 1) async throws(ScheduleError) -> ExploreShard {
        guard case .dfs = options.strategy else { throw ScheduleError(message: "--shard applies to the dfs strategy") }
        let roots = Array(stride(from: index - 1, to: program.threadNames.count, by: count))
        let parts = await searchSubtrees(program, options, roots: roots, jobs: jobs)
        let records = zip(roots, parts).map { $1.record(thread: $0) }
        return ExploreShard(index: index, count: count, fingerprint: fingerprint, threads: program.threadNames.count, subtrees: records)
    }

    /// `explore --merge`: the result of the search the shards split, as `--jobs` prints it.
    /// The shards (with the file each came from, for errors) must be every shard of one
    /// search of this config with these options.
    public static func mergeShards(_ program: any ExplorableProgram, options: ExploreOptions, fingerprint: String,
                                   _ shards: [(file: String, shard: ExploreShard)]) async throws(ConfigError) -> ExploreResult {
        let opts = options
        let n = program.threadNames.count
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
        let snapshot = await Snapshot.make(program)
        var acc = Accumulator(program: program, opts: opts, progress: nil)
        for (t, entry) in byThread.enumerated() {
            guard let (file, r) = entry else {
                throw ConfigError(file: shards.map(\.file).joined(separator: ", "), path: "", message: "merge: no shard holds the subtree of thread \(program.threadNames[t])")
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
        func sched(_ o: RunOutcome) -> String { Explorer.schedule(o.choices, program).description }
        return SubtreeRecord(thread: thread, runs: result.runs, pruned: result.pruned, points: result.points,
                             complete: result.complete, tooLong: result.tooLong, ends: ends.sorted(),
                             found: found.map { .init(key: $0.violationKey ?? "", schedule: sched($0), count: 1) },
                             outcomes: outcomes.keys.sorted().map { k in .init(key: k, schedule: sched(outcomes[k]!.best), count: outcomes[k]!.count) },
                             cache: result.cache)
    }

    /// A subtree's search back from its record: figures as recorded, each violation's and
    /// outcome's run replayed from its schedule (and checked against the record).
    init(restoring r: SubtreeRecord, _ snapshot: Snapshot, _ opts: ExploreOptions, file: String) async throws(ConfigError) {
        self.init(program: snapshot.program, opts: opts, progress: nil)
        result.runs = r.runs
        result.pruned = r.pruned
        result.points = r.points
        result.complete = r.complete
        result.tooLong = r.tooLong
        result.cache = r.cache
        ends = Set(r.ends)
        result.endStates = ends.count
        let names = snapshot.threadNames
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
