import FolioSimModel
import FolioSimExplore

/// `foliosim bench`'s sweep figure: 100 points of a 1 GiB workload, all cores.
extension Bench {
    static let sweepConfig = """
        { name: "bench-sweep", memory: "2G", thp: { enabled: "madvise" },
          sweep: {
            axes: {
              "thp.sizes": [ {}, { "16K": "always" }, { "32K": "always", "16K": "always" },
                             { "64K": "always", "32K": "always", "16K": "always" }, { "2M": "always" } ],
              "semantics.cowCopy": [ "one-page", "aligned-range" ],
              stride: [ "4K", "8K", "16K", "32K", "64K" ],
              check: [ "step", "end" ],
            },
            metrics: [ "total.faults.total", "total.rssAnonPages", "total.cowCopiedBytes" ],
          },
          steps: [
            { op: "mmap", proc: "P", addr: "0x40000000", size: "1G", prot: "rw", map: "private-anon" },
            { op: "touch", proc: "P", addr: "0x40000000", size: "1G", pattern: "stride", stride: "${stride}", write: true },
            { op: "fork", proc: "P", child: "C" },
            { op: "touch", proc: "C", addr: "0x40000000", size: "256M", pattern: "stride", stride: "${stride}", write: true, value: 2 } ] }
        """

    static func sweepFigure(jobs: Int) async -> BenchFigure? {
        guard let plan = try? Sweep.plan(text: sweepConfig, file: "bench-sweep") else { return nil }
        let clock = ContinuousClock()
        let start = clock.now
        let rows = await Sweep.run(plan, points: Array(plan.points.indices), jobs: jobs)
        let secs = seconds(clock.now - start)
        return BenchFigure(name: "sweep points", value: Double(rows.count) / secs, unit: "points/s",
                           detail: "\(rows.count) points of a 1 GiB workload (write 1 GiB at 5 strides, fork, the child writes 256 MiB) on \(jobs) cores: \(String(format: "%.1f", secs)) s")
    }
}
