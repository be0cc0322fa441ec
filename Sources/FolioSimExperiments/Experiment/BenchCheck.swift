import FolioSimModel
import FolioSimExplore

/// `foliosim bench`'s figure for the incremental checker: what a check costs after a step
/// that changed a small part of a large address space, beside a full check of the same world.
extension Bench {
    /// `pages` pages mapped and written; then 64 steps each rewrite 4096 of them (16 MiB) and
    /// are checked incrementally. Returns the figure (mean µs per check).
    static func incrementalCheckFigure(pages: Int) async -> BenchFigure {
        var off = THPSettings()
        off.enabled = .never
        off.perOrder[Geometry.pmdOrder] = .never
        let (_, _, w) = await faultRun(pages: pages, thp: off)
        let t = w.threads[0]
        let clock = ContinuousClock()
        let fullStart = clock.now
        w.checkInvariants()
        let full = seconds(clock.now - fullStart)
        w.checkStrategy = .incremental
        w.checkInvariants()
        let chunk = min(4096, pages)
        let steps = 64
        var total = 0.0
        for k in 0..<steps {
            let first = (k * chunk) % max(1, pages - chunk + 1)
            var a = base + UInt64(first) * Geometry.pageSize
            for _ in 0..<chunk {
                _ = await w.access(t, a, write: true, value: UInt32(k + 2))
                a += Geometry.pageSize
            }
            let start = clock.now
            w.checkInvariants()
            total += seconds(clock.now - start)
        }
        let fallback = w.checkCounts.fallback
        return BenchFigure(name: "incremental invariant check", value: total / Double(steps) * 1e6, unit: "µs per step",
                           detail: "after rewriting \(chunk) of \(pages) mapped pages (\(steps) steps\(fallback > 0 ? ", \(fallback) fell back" : "")); a full check of the same world: \(Int(full * 1e6)) µs")
    }
}
