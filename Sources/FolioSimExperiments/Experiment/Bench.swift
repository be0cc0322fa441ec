import FolioSimModel
import FolioSimExplore

import Foundation

/// One benchmark figure.
public struct BenchFigure: Sendable {
    /// What was measured.
    public var name: String
    /// The figure, in `unit`.
    public var value: Double
    /// e.g. `M faults/s`, `ms`, `bytes`.
    public var unit: String
    /// The workload and how the figure was taken.
    public var detail: String
}

/// `foliosim bench`: simulated fault throughput and simulator memory per touched page,
/// measured on the same code paths experiments use (run-to-completion, checker off while
/// timing). Wall-clock time is read here and only here.
public enum Bench {
    /// Writes one byte into each of `pages` pages of a fresh private anon mapping and returns
    /// (seconds, faults, world).
    static func faultRun(pages: Int, thp: THPSettings, extraMemoryPages: Int = 4096) async -> (Double, Int, World) {
        let world = World(memoryBytes: UInt64(pages + extraMemoryPages) * Geometry.pageSize, thp: thp)
        let t = world.createProcess(name: "bench")!
        try? await world.mmap(t, addr: base, size: UInt64(pages) * Geometry.pageSize, prot: [.read, .write], kind: .privateAnon)
        let secs = await writePass(world, t, pages: pages, value: 1)
        return (secs, world.totalStats.faultsTotal, world)
    }

    static let base: UInt64 = 0x4000_0000

    /// Stores into every page once; returns the seconds it took.
    static func writePass(_ world: World, _ t: SimThread, pages: Int, value: UInt32) async -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var a = base
        let end = base + UInt64(pages) * Geometry.pageSize
        while a < end {
            _ = await world.access(t, a, write: true, value: value)
            a += Geometry.pageSize
        }
        return seconds(clock.now - start)
    }

    /// A duration in seconds.
    public static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    static func rssBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let parts = s.split(separator: " ")
        guard parts.count > 1, let pages = Int(parts[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// `exploreCap`: runs after which a stateful unbounded exploration stops (`statefulFigures`).
    public static func run(pages: Int = 1 << 20, repeats: Int = 3, explore: Bool = true, exploreCap: Int = 100_000, sweep: Bool = true,
                           progress: (String) -> Void = { _ in }) async -> [BenchFigure] {
        var off = THPSettings()
        off.enabled = .never
        off.perOrder[Geometry.pmdOrder] = .never
        var figures = await orderZeroFigures(pages: pages, repeats: repeats, thp: off, progress: progress)
        figures.append(await mthpFigure(pages: pages, repeats: repeats, off: off, progress: progress))
        figures += await forkAndCheckFigures(pages: pages / 4, thp: off, progress: progress)
        progress("incremental check")
        figures.append(await incrementalCheckFigure(pages: pages / 4))
        if explore { figures += await exploreFigures(repeats: repeats, cap: exploreCap, progress: progress) }
        if sweep {
            progress("sweep")
            if let f = await sweepFigure(jobs: ProcessInfo.processInfo.activeProcessorCount) { figures.append(f) }
        }
        return figures
    }

    /// Order-0 fault throughput (best of `repeats`), stores without a fault, and the
    /// simulator's memory per touched page, as the model counts it and as the process's RSS
    /// grows (when it can be read).
    private static func orderZeroFigures(pages: Int, repeats: Int, thp off: THPSettings,
                                         progress: (String) -> Void) async -> [BenchFigure] {
        var best = 0.0, bestAccess = 0.0
        var footprint = 0
        var rssPerPage = 0.0
        for r in 0..<repeats {
            progress("order-0 faults: run \(r + 1)/\(repeats)")
            let rssBefore = rssBytes()
            let (secs, faults, world) = await faultRun(pages: pages, thp: off)
            if r == 0, let b = rssBefore, let a = rssBytes() { rssPerPage = Double(a - b) / Double(pages) }
            best = max(best, Double(faults) / secs)
            footprint = world.footprintBytes
            let again = await writePass(world, world.threads[0], pages: pages, value: 2)
            bestAccess = max(bestAccess, Double(pages) / again)
        }
        var figures: [BenchFigure] = []
        figures.append(BenchFigure(name: "order-0 anonymous faults", value: best / 1e6, unit: "M faults/s",
                                   detail: "write 1 byte into each of \(pages) pages (\(formatSize(UInt64(pages) * Geometry.pageSize))), THP off; best of \(repeats)"))
        figures.append(BenchFigure(name: "simulated stores without a fault", value: bestAccess / 1e6, unit: "M stores/s",
                                   detail: "a second pass over the same pages: page-table walk and store only"))
        figures.append(BenchFigure(name: "simulator memory per touched page", value: Double(footprint) / Double(pages), unit: "bytes",
                                   detail: "model footprint (memmap + page tables with checker shadow + folio side table) / touched pages, memory fully touched"))
        if rssPerPage > 0 {
            figures.append(BenchFigure(name: "process RSS growth per touched page", value: rssPerPage, unit: "bytes",
                                       detail: "/proc/self/statm resident delta over one run / touched pages"))
        }
        return figures
    }

    /// Fault throughput with 64K mTHP on (best of `repeats`).
    private static func mthpFigure(pages: Int, repeats: Int, off: THPSettings, progress: (String) -> Void) async -> BenchFigure {
        var m64 = off
        m64.perOrder[4] = .always
        var bestL = 0.0
        for r in 0..<repeats {
            progress("64K mTHP faults: run \(r + 1)/\(repeats)")
            let (secs, faults, _) = await faultRun(pages: pages, thp: m64)
            bestL = max(bestL, Double(faults) / secs)
        }
        return BenchFigure(name: "64K mTHP anonymous faults", value: bestL / 1e6, unit: "M faults/s",
                           detail: "same workload with hugepages-64kB=always: 16 pages per fault, \(Int(bestL * 16 / 1e6)) M pages/s; best of \(repeats)")
    }

    /// A fork of `cowPages` order-0 pages with the child's COW faults on each, then one full
    /// invariant check over both address spaces.
    private static func forkAndCheckFigures(pages cowPages: Int, thp off: THPSettings, progress: (String) -> Void) async -> [BenchFigure] {
        progress("fork + COW")
        let (_, _, w) = await faultRun(pages: cowPages, thp: off, extraMemoryPages: cowPages + 8192)
        let parent = w.threads[0]
        let clock = ContinuousClock()
        let start = clock.now
        let child = try! await w.fork(parent, childName: "child")
        _ = await writePass(w, child, pages: cowPages, value: 2)
        let secs = seconds(clock.now - start)
        var figures: [BenchFigure] = []
        figures.append(BenchFigure(name: "fork + child COW faults", value: Double(cowPages) / secs / 1e6, unit: "M faults/s",
                                   detail: "fork of \(cowPages) order-0 pages, then the child writes each (one wp_page_copy per page)"))

        progress("invariant check")
        let cstart = clock.now
        w.checkInvariants()
        let csecs = seconds(clock.now - cstart)
        figures.append(BenchFigure(name: "full invariant check", value: csecs * 1e9 / Double(2 * cowPages), unit: "ns per mapped page",
                                   detail: "one checkInvariants() over two address spaces of \(cowPages) pages each"))
        return figures
    }
}
