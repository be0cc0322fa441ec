import FolioSimModel
import FolioSimExplore

import Foundation

/// `foliosim bench`'s whole-process figures: `foliosim run` started as a child process on a
/// config, timed from spawn to exit, with its peak resident memory from `wait4`. These
/// include what the in-process figures leave out: starting up, reading the config, the
/// default per-step invariant checks and the report.
extension Bench {
    /// The workloads: a 16 GiB order-0 write in a 32 GiB machine, the same 16 GiB written in
    /// 1024 steps of 16 MiB (a check after each), fork of 1 Mi pages with the child writing
    /// each, and a `touch` (loads) of 2^26 pages, all with the default checks.
    static let processWorkloads: [(name: String, faults: Int, pages: Int, config: String)] = [
        ("run: 16 GiB order-0 write, default checks", 1 << 22, 1 << 22, """
        { name: "write-16g", memory: "32G", thp: { enabled: "never" },
          steps: [ { op: "mmap", proc: "P", addr: "0x40000000", size: "16G", prot: "rw", map: "private-anon" },
                   { op: "write", proc: "P", addr: "0x40000000", size: "16G" } ] }
        """),
        ("run: 16 GiB written in 1024 steps of 16 MiB, default checks", 1 << 22, 1 << 22, """
        { name: "write-16g-steps", memory: "32G", thp: { enabled: "never" },
          steps: [ { op: "mmap", proc: "P", addr: "0x40000000", size: "16G", prot: "rw", map: "private-anon" },
                   { op: "write", proc: "P", addr: "0x40000000", size: "16M", repeat: 1024, stride: "16M" } ] }
        """),
        ("run: fork of 1 Mi pages + child writes, default checks", 1 << 21, 1 << 21, """
        { name: "fork-1m", memory: "16G", thp: { enabled: "never" },
          steps: [ { op: "mmap", proc: "P", addr: "0x40000000", size: "4G", prot: "rw", map: "private-anon" },
                   { op: "write", proc: "P", addr: "0x40000000", size: "4G" },
                   { op: "fork", proc: "P", child: "C" },
                   { op: "write", proc: "C", addr: "0x40000000", size: "4G", value: 2 } ] }
        """),
        ("run: touch of 2^26 pages (256 GiB), default checks", 1 << 26, 1 << 26, """
        { name: "touch-256g", memory: "32G", thp: { enabled: "never" },
          steps: [ { op: "mmap", proc: "P", addr: "0x40000000", size: "256G", prot: "rw", map: "private-anon" },
                   { op: "touch", proc: "P", addr: "0x40000000", size: "256G" } ] }
        """),
    ]

    /// Runs each workload `repeats` times as `executable run FILE`; the fastest run is kept.
    /// `foliosim run` of `config` (written to `file`) `repeats` times as a child process: the
    /// fastest run's seconds and peak RSS, nil if none ran.
    static func bestRun(_ executable: String, config: String, file: String, repeats: Int) -> (secs: Double, rss: Int)? {
        guard (try? config.write(toFile: file, atomically: true, encoding: .utf8)) != nil else { return nil }
        var best: (secs: Double, rss: Int)?
        for _ in 0..<max(1, repeats) {
            guard let r = runChild(executable, ["run", file]) else { continue }
            if best == nil || r.secs < best!.secs { best = r }
        }
        return best
    }

    /// Nil entries when the executable cannot be started.
    public static func processFigures(executable: String, repeats: Int, progress: (String) -> Void = { _ in }) -> [BenchFigure] {
        var figures: [BenchFigure] = []
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("foliosim-bench-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, w) in processWorkloads.enumerated() {
            progress(w.name)
            guard let b = bestRun(executable, config: w.config, file: dir.appendingPathComponent("w\(i).json5").path, repeats: repeats) else { continue }
            figures.append(BenchFigure(name: w.name, value: Double(w.faults) / b.secs / 1e6, unit: "M faults/s",
                                       detail: "whole process, \(String(format: "%.2f", b.secs)) s, peak RSS \(b.rss >> 20) MiB = \(String(format: "%.1f", Double(b.rss) / Double(w.pages))) bytes per touched page; best of \(max(1, repeats))"))
        }
        return figures
    }

    /// Spawns `path args…` with output discarded and waits; wall seconds and peak RSS bytes.
    /// The child shares this process's memory until it execs (vfork), and the kernel carries
    /// that peak into the child's: run this before this process grows.
    static func runChild(_ path: String, _ args: [String]) -> (secs: Double, rss: Int)? {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([path] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let clock = ContinuousClock()
        let start = clock.now
        guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return nil }
        var status: Int32 = 0
        var usage = rusage()
        guard wait4(pid, &status, 0, &usage) == pid else { return nil }
        let secs = seconds(clock.now - start)
        return (secs, usage.ru_maxrss * 1024)
    }
}
