import FolioSimModel
import FolioSimExplore
import FolioSimExperiments
import Foundation

let usage = """
usage: foliosim <command> [options]

commands:
  run FILE [--json] [--trace] [--semantics NAME]
                                run an experiment config (JSON5) and print a summary;
                                --json prints one JSON object, --trace adds the kernel trace
  sweep FILE [--out DIR] [--jobs N] [--shard I/N]
  sweep --merge DIR… --out DIR
                                run every point of the config's sweep grid; CSV, JSON, SVG
  explore FILE [--json] [--strategy S] [--bound N|none] [--seed N] [--count N] [--depth N] [--no-reduction]
               [--state-cache hash|exact|off] [--jobs N] [--schedule S] [--all] [--ignore NAME]... [--shrink-budget N]
               [--semantics NAME] [--shard I/N --out FILE]
  explore FILE --merge SHARD… [options the shards ran with]
                                explore the interleavings of the config's threads
  replay FILE SCHEDULE [--json] [--semantics NAME]
                                run one schedule of the config's threads with a trace
  cow-selftest [--semantics NAME] [--sizes 16K,64K,2M] [--history] [--json]
                                replay the kernel's COW selftest (cow.c) under a rule set
  kernel-diff FILE [--json] [--repeat N] [--semantics NAME]
                                run the config's steps on this machine's kernel and in
                                FolioSim, and show every count that differs (root)
  bench [--pages N] [--repeats N] [--explore-cap N] [--no-explore] [--no-sweep] [--no-process]
                                measure simulated fault throughput and memory per page
  help [ops [--markdown]]       show this help; `help ops` lists the config ops, their
                                fields and what each does (--markdown: README's table)

exit status: 0 ok, 1 an invariant was violated, 2 bad input (config or arguments)
"""

let runUsage = """
usage: foliosim run FILE [--json] [--trace] [--semantics NAME] [--checks MODE]

Runs the experiment in FILE (JSON5, see Experiments/README.md) with every kernel path
run to completion, checks the invariants after every step, and prints a summary. A config
with `threads` runs them one after another in the order written (each op to its end: the
schedule without preemption), then its `after` steps, and checks its `expect` (a listed
outcome must be the one observed); `foliosim explore` interleaves the threads.
  --json            print one JSON object (total, processes, memory, errors, violations)
  --trace           also print the kernel trace (`thread function: what`), to stderr with --json
  --semantics NAME  \(semanticsHelp)
  --checks MODE     incremental (default with `check: "step"`: revisit what each step
                    changed), full (walk everything at every check) or audit (both, and
                    report any disagreement between them on stderr)
Exit status: 0 ok (with `expect`: as expected), 1 an invariant was violated or `expect` was
not met (or the audit disagreed), 2 bad config or arguments.
"""

let benchUsage = """
usage: foliosim bench [--pages N] [--repeats N] [--explore-cap N] [--no-explore] [--no-sweep] [--no-process] [--no-scale]

Measures order-0 and 64K mTHP anonymous fault throughput, fork + COW throughput,
the cost of a full invariant check, simulator memory per touched 4 KiB page, and the
explorer: Ryan Roberts' race to its bound, the first counterexample of an injected bug,
scheduling points per second, the scaling set to its bound, and the stateful search's
targets: the scaling set, with and without GUP-fast, and a 64K MADV_PAGEOUT against GUP-fast,
unbounded with the state cache, beside SPIN's state counts (--no-explore skips these); sweep points
per second over 100 points of a 1 GiB workload on every core (--no-sweep). Then the
whole-process figures: `foliosim run` as a child process on a 16 GiB write and on fork of
1 Mi pages with the child writing each, default checks on, timed from start to exit with
its peak RSS (--no-process skips these); and the same on workloads far larger than what they
change: a 64 TiB mapping with two pages written, 8000 forked children that write a page and
exit, a synthesized 50 MB perf trace (--no-scale skips these).
  --pages N     pages touched per run (default 1048576 = 4 GiB simulated)
  --repeats N   runs per figure, the best is kept (default 3)
  --explore-cap N  runs after which an unbounded stateful exploration stops (default 100000)
"""

/// The `--semantics` line of every command's help.
let semanticsHelp = "the rules of a kernel: " + Semantics.presets.map(\.name).joined(separator: ", ")
    + "\n                    (replaces the config's preset; its own switches still apply)"

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("foliosim: " + oneLine(message) + "\n").utf8))
    exit(2)
}

/// This foliosim binary, for the child processes it starts (bench, kernel-diff's helpers).
func selfExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

func printErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

@main
struct FolioSimCLI {
    static func main() async {
        var args = Array(CommandLine.arguments.dropFirst())
        // kernel-diff's helper: before anything else runs, so that its fork copies one thread.
        if args.first == "__kernel-diff-helper" { HostHelper.main(Array(args.dropFirst())) }
        guard let command = args.first else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            exit(2)
        }
        args.removeFirst()
        switch command {
        case "help", "--help", "-h":
            switch args {
            case []: print(usage)
            case ["ops"]: print(OpReference.text, terminator: "")
            case ["ops", "--markdown"]: print(OpReference.markdownTable, terminator: "")
            default: fail("help: unknown topic '\(args.joined(separator: " "))' (expected nothing or ops)")
            }
        case "run":
            await runCommand(args)
        case "bench":
            await benchCommand(args)
        case "explore":
            await exploreCommand(args)
        case "replay":
            await replayCommand(args)
        case "cow-selftest":
            await cowSelftestCommand(args)
        case "sweep":
            await sweepCommand(args)
        case "kernel-diff":
            await kernelDiffCommand(args)
        default:
            fail("unknown command '\(command)' (expected run, sweep, explore, replay, cow-selftest, kernel-diff, bench or help)")
        }
    }

    static func runCommand(_ args: [String]) async {
        var json = false, trace = false
        var file: String?, semantics: String?
        var checks: CheckStrategy?
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            switch a {
            case "--help", "-h": print(runUsage); exit(0)
            case "--json": json = true
            case "--trace": trace = true
            case "--checks":
                guard i < args.count else { fail("run: --checks expects full, incremental or audit") }
                guard let c = CheckStrategy(rawValue: args[i]) else {
                    fail("run: --checks expects full, incremental or audit, got \(JSONWriter.quote(args[i]))")
                }
                checks = c
                i += 1
            case "--semantics":
                guard i < args.count else { fail("run: --semantics expects a value") }
                semantics = args[i]
                i += 1
            default:
                if a.hasPrefix("-") { fail("run: unknown option \(JSONWriter.quote(a)) (expected --json, --trace, --semantics NAME or --checks MODE)") }
                if file != nil { fail("run: expected one config file, got \(JSONWriter.quote(file!)) and \(JSONWriter.quote(a))") }
                file = a
            }
        }
        guard let file else { fail("run: missing config file (usage: foliosim run FILE [--json] [--trace])") }
        let scenario: Scenario
        do {
            scenario = try Scenario.load(path: file, semantics: semantics)
        } catch {
            fail(error.description)
        }
        let interactive = isatty(STDERR_FILENO) != 0
        let result = await ExperimentRunner.run(scenario, trace: trace, checks: checks) { i, n in
            if interactive { FileHandle.standardError.write(Data("\rstep \(i + 1)/\(n)\u{1B}[K".utf8)) }
        }
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let traceText = result.trace.map(\.description).joined(separator: "\n")
        if json {
            print(JSONWriter.write(Report.json(result)))
            if trace && !traceText.isEmpty { printErr(traceText) }
        } else {
            if trace && !traceText.isEmpty { print(traceText + "\n") }
            print(Report.text(result), terminator: "")
        }
        for line in result.world.auditFailures { printErr("checker audit: \(line)") }
        if checks == .audit {
            let c = result.world.checkCounts
            printErr("checker audit: \(c.incremental) incremental checks passed, \(c.fallback) fell back to a full check, \(c.overflow) steps changed too much to note, \(c.full) full checks, \(result.world.auditFailures.count) disagreements")
        }
        exit(Report.matches(result) && result.world.auditFailures.isEmpty ? 0 : 1)
    }

    static func benchCommand(_ args: [String]) async {
        var pages = 1 << 20, repeats = 3, explore = true, process = true, sweep = true, scale = true, cap = 100_000
        var i = 0
        while i < args.count {
            let a = args[i]
            switch a {
            case "--help", "-h": print(benchUsage); exit(0)
            case "--no-explore": explore = false; i += 1
            case "--no-process": process = false; i += 1
            case "--no-sweep": sweep = false; i += 1
            case "--no-scale": scale = false; i += 1
            case "--pages", "--repeats", "--explore-cap":
                guard i + 1 < args.count, let n = Int(args[i + 1]), n > 0 else {
                    fail("bench: \(a) expects a positive integer")
                }
                if a == "--pages" {
                    guard n >= 1024, n <= 1 << 24 else { fail("bench: --pages expects 1024 to 16777216") }
                    pages = n
                } else if a == "--repeats" {
                    repeats = n
                } else {
                    cap = n
                }
                i += 2
            default:
                fail("bench: unknown option \(JSONWriter.quote(a)) (expected --pages N, --repeats N, --explore-cap N, --no-explore, --no-sweep, --no-process or --no-scale)")
            }
        }
        // The whole-process runs go first, while this process is small: a child started by
        // posix_spawn (vfork) counts this process's peak RSS as its own at exec.
        var processFigures: [BenchFigure] = []
        if process {
            processFigures = Bench.processFigures(executable: selfExecutable(), repeats: repeats) { printErr("bench: " + $0) }
        }
        if scale {
            processFigures += Bench.scaleFigures(executable: selfExecutable(), repeats: repeats) { printErr("bench: " + $0) }
        }
        let figures = await Bench.run(pages: pages, repeats: repeats, explore: explore, exploreCap: cap, sweep: sweep) { printErr("bench: " + $0) }
            + processFigures
        for f in figures {
            let v = f.value >= 100 ? String(format: "%.0f", f.value) : String(format: "%.2f", f.value)
            print("\(f.name): \(v) \(f.unit)  (\(f.detail))")
        }
    }
}
