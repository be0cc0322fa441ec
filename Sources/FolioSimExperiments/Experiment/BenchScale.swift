import FolioSimModel

import Foundation

/// `foliosim bench`'s scale figures (issue 18, item 2: cost in proportion to change):
/// `foliosim run` as a child process, default checks, on workloads far larger than what they
/// change: a 64 TiB mapping with two pages written, 8000 short-lived forked children, and a
/// 50 MB perf trace. Each figure is the whole process's wall time, with its peak RSS.
extension Bench {
    /// The 64 TiB mapping (as Experiments/scale/sparse-64t.json5).
    static let sparseConfig = """
        { name: "sparse-64t", memory: "1G", thp: { enabled: "never" },
          steps: [
            { op: "mmap", proc: "P", addr: "0x100000000", size: "64T", prot: "rw", map: "private-anon" },
            { op: "write", proc: "P", addr: "0x100000000", size: "4K", value: 1 },
            { op: "write", proc: "P", addr: "0x200000000000", size: "4K", value: 2 },
            { op: "read", proc: "P", addr: "0x100000000", size: "4K", expect: 1 } ] }
        """

    /// A parent maps and writes 1 MiB, then `children` times forks a child that writes one
    /// page and exits (the workload of Experiments/scale/fork-many.sh).
    package static func forkManyConfig(children: Int) -> String {
        var s = """
            { name: "fork-\(children)", memory: "1G", thp: { enabled: "never" },
              steps: [ { op: "mmap", proc: "P", addr: "0x40000000", size: "1M", prot: "rw", map: "private-anon" },
                       { op: "write", proc: "P", addr: "0x40000000", size: "1M" },

            """
        for i in 1...max(1, children) {
            s += "           { op: \"fork\", proc: \"P\", child: \"C\(i)\" }, { op: \"write\", proc: \"C\(i)\", addr: \"0x40000000\", value: 2 }, { op: \"exit\", proc: \"C\(i)\" },\n"
        }
        return s + "  ] }\n"
    }

    /// Runs the three workloads `repeats` times each as `executable run FILE` (the trace is
    /// synthesized first, `SyntheticTrace`); the fastest run is kept.
    public static func scaleFigures(executable: String, repeats: Int, progress: (String) -> Void = { _ in }) -> [BenchFigure] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("foliosim-bench-scale-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let traceBytes = 50_000_000
        let workloads: [(name: String, target: String, config: String, trace: Bool)] = [
            ("run: 64 TiB mapping, two 4K writes, default checks", "< 0.1 s, < 50 MB", sparseConfig, false),
            ("run: 8000 forked children, each writes a page and exits, default checks", "< 1 s", forkManyConfig(children: 8000), false),
            ("run: replay of a 50 MB perf trace, default checks", "< 3 s", """
                { name: "synthetic-trace", memory: "1G", thp: { enabled: "never" },
                  steps: [ { op: "trace", file: "synthetic.trace" } ] }
                """, true),
        ]
        var figures: [BenchFigure] = []
        for (i, w) in workloads.enumerated() {
            progress(w.name)
            if w.trace && !writeTrace(dir.appendingPathComponent("synthetic.trace").path, bytes: traceBytes) { continue }
            guard let b = bestRun(executable, config: w.config, file: dir.appendingPathComponent("s\(i).json5").path, repeats: repeats) else { continue }
            figures.append(BenchFigure(name: w.name, value: b.secs, unit: "s",
                                       detail: "whole process, peak RSS \(b.rss >> 20) MiB; target \(w.target); best of \(max(1, repeats))"))
        }
        return figures
    }

    /// Writes `SyntheticTrace` of `bytes` bytes to `path` a process at a time.
    private static func writeTrace(_ path: String, bytes: Int) -> Bool {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else { return false }
        defer { try? h.close() }
        SyntheticTrace.write(bytes: bytes) { h.write(Data($0.utf8)) }
        return true
    }
}
