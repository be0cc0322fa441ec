import FolioSimModel
import FolioSimExplore
import FolioSimExperiments
import Foundation

let sweepUsage = """
usage: foliosim sweep FILE [--out DIR] [--jobs N] [--shard I/N] [--json]
       foliosim sweep --merge DIR… --out DIR

Runs every point of the grid in FILE's `sweep` section (see Experiments/README.md) and
prints one line per point: the axis values, the metrics, the invariant violations.
  --out DIR     write DIR/sweep.csv (axis names, then metric paths), DIR/sweep.json and
                one DIR/<metric>.svg chart per metric
  --jobs N      run N points at a time (default: every core)
  --shard I/N   run only the points of shard I of N (every N-th point, from I-1), so that
                a job array can split a sweep; writes sweep.csv and sweep.json of its points
  --merge DIR…  join the shards' output directories into the files one run writes
  --json        print sweep.json instead of the table
Exit status: 0 ok, 1 some point broke an invariant, 2 bad config or arguments.
"""

/// What sweep's command line asked for.
private struct SweepArguments {
    var file: String?
    var out: String?
    var jobs = ProcessInfo.processInfo.activeProcessorCount
    var json = false
    var shard: (index: Int, count: Int)?
    /// The shards' output directories (`--merge`).
    var merge: [String]?
}

extension FolioSimCLI {
    static func sweepCommand(_ args: [String]) async {
        let a = parseSweepArguments(args)
        if let dirs = a.merge {
            guard a.file == nil, a.shard == nil else { fail("sweep: --merge takes output directories, not a config or --shard") }
            guard let out = a.out else { fail("sweep: --merge needs --out DIR") }
            let merged: (plan: SweepPlan, rows: [SweepRow])
            do { merged = try Sweep.merge(dirs) } catch { fail(error.description) }
            finish(merged.plan, merged.rows, out: out, shard: nil, json: a.json)
        }
        guard let file = a.file else { fail("sweep: missing config file (usage: foliosim sweep FILE [--out DIR])") }
        let plan: SweepPlan
        do { plan = try Sweep.load(path: file) } catch { fail(error.description) }
        let rows = await runSweep(plan, points: Sweep.shardPoints(plan, shard: a.shard), jobs: a.jobs)
        finish(plan, rows, out: a.out, shard: a.shard, json: a.json)
    }

    /// Reads sweep's options and config file (`--help` prints the usage and exits).
    private static func parseSweepArguments(_ args: [String]) -> SweepArguments {
        var r = SweepArguments()
        var i = 0
        func value(_ name: String) -> String {
            guard i + 1 < args.count else { fail("sweep: \(name) expects a value") }
            i += 1
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--help", "-h": print(sweepUsage); exit(0)
            case "--json": r.json = true
            case "--out": r.out = value(a)
            case "--jobs":
                let v = value(a)
                guard let n = Int(v), n >= 1, n <= 1024 else { fail("sweep: --jobs expects a number from 1 to 1024, got \(JSONWriter.quote(v))") }
                r.jobs = n
            case "--shard": r.shard = sweepShard(value(a))
            case "--merge":
                var dirs: [String] = []
                while i + 1 < args.count && !args[i + 1].hasPrefix("--") {
                    i += 1
                    dirs.append(args[i])
                }
                guard !dirs.isEmpty else { fail("sweep: --merge expects the shards' output directories") }
                r.merge = dirs
            default:
                if a.hasPrefix("-") { fail("sweep: unknown option \(JSONWriter.quote(a)) (expected --out, --jobs, --shard, --merge or --json)") }
                if let file = r.file { fail("sweep: expected one config file, got \(JSONWriter.quote(file)) and \(JSONWriter.quote(a))") }
                r.file = a
            }
            i += 1
        }
        return r
    }

    /// `--shard I/N`, 1 ≤ I ≤ N ≤ 1000000.
    private static func sweepShard(_ v: String) -> (index: Int, count: Int) {
        let parts = v.split(separator: "/")
        guard parts.count == 2, let si = Int(parts[0]), let sn = Int(parts[1]), sn >= 1, sn <= 1_000_000, si >= 1, si <= sn else {
            fail("sweep: --shard expects I/N with 1 ≤ I ≤ N, e.g. 3/8, got \(JSONWriter.quote(v))")
        }
        return (si, sn)
    }

    /// Runs `points` of the sweep, `jobs` at a time, showing the progress on a terminal.
    private static func runSweep(_ plan: SweepPlan, points: [Int], jobs: Int) async -> [SweepRow] {
        let interactive = isatty(STDERR_FILENO) != 0
        let clock = ContinuousClock()
        let start = clock.now
        let rows = await Sweep.run(plan, points: points, jobs: jobs) { done, total in
            guard interactive else { return }
            let secs = max(1e-9, Bench.seconds(clock.now - start))
            let rate = Double(done) / secs
            let left = Double(total - done) / max(rate, 1e-9)
            FileHandle.standardError.write(Data(String(format: "\rsweep: %d/%d points, %.1f points/s, %.0f s left\u{1B}[K", done, total, rate, left).utf8))
        }
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        return rows
    }

    private static func finish(_ plan: SweepPlan, _ rows: [SweepRow], out: String?, shard: (index: Int, count: Int)?, json: Bool) -> Never {
        var written: [String] = []
        if let out {
            do { written = try Sweep.write(plan, rows, to: out, shard: shard) } catch { fail("sweep: cannot write \(JSONWriter.quote(out)): \(error.localizedDescription)") }
        }
        if json {
            print(JSONWriter.write(Sweep.json(plan, rows, shard: shard)))
        } else {
            let part = shard.map { " (shard \($0.index)/\($0.count))" } ?? ""
            print("\(oneLine(plan.name)): \(rows.count) of \(plan.pointCount) points\(part)\n")
            print(Sweep.table(plan, rows), terminator: "")
            if !written.isEmpty { print("\nwrote " + written.joined(separator: ", ")) }
        }
        exit(rows.contains { $0.violations > 0 } ? 1 : 0)
    }
}
