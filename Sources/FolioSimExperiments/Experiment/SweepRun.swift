import FolioSimModel
import FolioSimExplore

import Foundation

/// Running a sweep's points, on several cores or as one shard of many, and writing what they
/// gave: `sweep.csv`, `sweep.json` and one SVG chart per metric.
extension Sweep {
    /// The points shard `index` of `count` runs (1-based): every `count`-th point.
    public static func shardPoints(_ plan: SweepPlan, shard: (index: Int, count: Int)?) -> [Int] {
        guard let (i, n) = shard else { return Array(plan.points.indices) }
        return plan.points.indices.filter { $0 % n == i - 1 }
    }

    /// Runs `points` of the plan, `jobs` at a time; `progress(done, total)` after each.
    /// Rows come back in point order whatever order they finished in.
    public static func run(_ plan: SweepPlan, points: [Int], jobs: Int,
                           progress: (Int, Int) -> Void = { _, _ in }) async -> [SweepRow] {
        var rows: [SweepRow] = []
        rows.reserveCapacity(points.count)
        await withTaskGroup(of: SweepRow.self) { group in
            var next = 0
            func start() {
                guard next < points.count else { return }
                let p = points[next]
                let scenario = plan.points[p]
                let metrics = plan.metrics
                next += 1
                group.addTask { await runPoint(p, scenario, metrics) }
            }
            for _ in 0..<max(1, jobs) { start() }
            for await row in group {
                rows.append(row)
                progress(rows.count, points.count)
                start()
            }
        }
        return rows.sorted { $0.point < $1.point }
    }

    /// One point, in its own world; only its numbers leave the task.
    @concurrent
    static func runPoint(_ p: Int, _ scenario: Scenario, _ metrics: [String]) async -> SweepRow {
        let r = await ExperimentRunner.run(scenario)
        let json = Report.json(r)
        return SweepRow(point: p, metrics: metrics.map { number(json, $0) }, violations: r.world.violations.count)
    }

    // MARK: output

    /// A metric value as written in the CSV, JSON and table: integers without a fraction.
    static func format(_ v: Double?) -> String {
        guard let v else { return "" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.6g", v)
    }

    private static func csvField(_ raw: String) -> String {
        let s = oneLine(raw)
        return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// One row per point: the axis values, then the metrics, in the order written.
    package static func csv(_ plan: SweepPlan, _ rows: [SweepRow]) -> String {
        var out = (plan.axes.map(\.name) + plan.metrics).map(csvField).joined(separator: ",") + "\n"
        for row in rows {
            let axes = zip(plan.axes, plan.coordinates(of: row.point)).map { $0.label($1) }
            out += (axes + row.metrics.map(format)).map(csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// The whole sweep as JSON: axes, metrics and each point's values. A shard's file says
    /// which shard it is and how many points the sweep has, so that `merge` can check it.
    public static func json(_ plan: SweepPlan, _ rows: [SweepRow], shard: (index: Int, count: Int)? = nil) -> JSONValue {
        var top: [(key: String, value: JSONValue)] = [
            ("name", .string(plan.name)),
            ("axes", .array(plan.axes.map { .object([("name", .string($0.name)), ("values", .array($0.values))]) })),
            ("metrics", .array(plan.metrics.map { .string($0) })),
            ("pointCount", JSONValue.int(plan.pointCount)),
        ]
        if let (i, n) = shard { top.append(("shard", .string("\(i)/\(n)"))) }
        top.append(("points", .array(rows.map { row in
            let values = zip(plan.axes, plan.coordinates(of: row.point)).map { ($0.name, $0.values[$1]) }
            let metrics = zip(plan.metrics, row.metrics).map { ($0, $1.map { JSONValue.number($0, text: format($0)) } ?? .null) }
            return .object([("index", JSONValue.int(row.point)), ("values", .object(values)), ("metrics", .object(metrics)),
                            ("violations", JSONValue.int(row.violations))])
        })))
        return .object(top)
    }

    /// The table the CLI prints: one line per point.
    public static func table(_ plan: SweepPlan, _ rows: [SweepRow]) -> String {
        let header = plan.axes.map { oneLine($0.name) } + plan.metrics + ["violations"]
        var cells = [header]
        for row in rows {
            cells.append(zip(plan.axes, plan.coordinates(of: row.point)).map { $0.label($1) } + row.metrics.map(format) + [String(row.violations)])
        }
        let widths = header.indices.map { c in cells.map { $0[c].count }.max() ?? 0 }
        return cells.map { line in
            line.enumerated().map { c, s in c < plan.axes.count ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - s.count) + s }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// The file of each metric's chart in the output directory.
    package static func chartFile(_ metric: String) -> String {
        metric.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" }.reduce("") { $0 + String($1) } + ".svg"
    }

    /// Writes sweep.csv, sweep.json and the charts into `dir`; returns the paths written.
    public static func write(_ plan: SweepPlan, _ rows: [SweepRow], to dir: String,
                             shard: (index: Int, count: Int)? = nil) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [(String, String)] = [("sweep.csv", csv(plan, rows)), ("sweep.json", JSONWriter.write(json(plan, rows, shard: shard)) + "\n")]
        if shard == nil {
            for (m, metric) in plan.metrics.enumerated() { files.append((chartFile(metric), SweepChart.svg(plan, rows, metric: m))) }
        }
        var written: [String] = []
        for (name, text) in files {
            let path = (dir as NSString).appendingPathComponent(name)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            written.append(path)
        }
        return written
    }

    // MARK: merging shards

    /// A whole number in `0..<limit` from a shard's JSON, nil for anything else.
    private static func index(_ v: JSONValue?, below limit: Int) -> Int? {
        guard case .number(let d, _)? = v, d >= 0, d < Double(limit), d == d.rounded() else { return nil }
        return Int(d)
    }

    /// Joins the `sweep.json` of shard directories into the plan and rows one run would have
    /// given. The shards must come from the same sweep and cover every point once.
    public static func merge(_ dirs: [String]) throws(ConfigError) -> (plan: SweepPlan, rows: [SweepRow]) {
        var axes: [SweepAxis]?
        var metrics: [String] = []
        var name = ""
        var count = 0
        var rows: [Int: SweepRow] = [:]
        for dir in dirs {
            let file = (dir as NSString).appendingPathComponent("sweep.json")
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigError(file: file, path: "", message: "cannot read the file (expected the output of foliosim sweep --out)")
            }
            let v = try Scenario.parse(text: text, file: file)
            func fail(_ path: String, _ m: String) -> ConfigError { ConfigError(file: file, path: path, message: m) }
            guard case .array(let axv)? = lookup(v, ["axes"]), case .array(let mv)? = lookup(v, ["metrics"]),
                  let n = index(lookup(v, ["pointCount"]), below: 100_001), case .array(let pv)? = lookup(v, ["points"]),
                  case .string(let nm)? = lookup(v, ["name"]) else {
                throw fail("", "not a sweep.json written by foliosim sweep")
            }
            guard !axv.isEmpty else { throw fail("axes", "expected at least one axis") }
            let a: [SweepAxis] = axv.compactMap { ax in
                guard case .string(let an)? = lookup(ax, ["name"]), case .array(let vals)? = lookup(ax, ["values"]), !vals.isEmpty else { return nil }
                return SweepAxis(name: an, values: vals, isParameter: false)
            }
            guard a.count == axv.count, SweepPlan(file: file, name: nm, axes: a, metrics: [], points: []).pointCount == n else {
                throw fail("axes", "the axes do not make a grid of pointCount (\(n)) points")
            }
            let m: [String] = mv.compactMap { if case .string(let s) = $0 { s } else { nil } }
            if let axes {
                guard axes.map(\.name) == a.map(\.name), axes.map(\.values) == a.map(\.values), metrics == m, count == n else {
                    throw fail("axes", "this shard is of another sweep than \(dirs[0])")
                }
            } else {
                (axes, metrics, count, name) = (a, m, n, nm)
            }
            for (k, p) in pv.enumerated() {
                guard let idx = index(lookup(p, ["index"]), below: count), let viol = index(lookup(p, ["violations"]), below: 1 << 30) else {
                    throw fail("points[\(k)]", "expected index, values, metrics and violations")
                }
                guard rows[idx] == nil else { throw fail("points[\(k)]", "point \(idx) is also in another shard") }
                let values: [Double?] = m.map { if case .number(let d, _)? = lookup(p, ["metrics", $0]) { d } else { nil } }
                if let bad = zip(m, values).first(where: { $0.1.map { !$0.isFinite } ?? false }) {
                    throw fail("points[\(k)].metrics.\(bad.0)", "expected a finite number, found \(bad.1!)")
                }
                rows[idx] = SweepRow(point: idx, metrics: values, violations: viol)
            }
        }
        guard let axes else { throw ConfigError(file: "", path: "", message: "merge: no shard directories given") }
        let missing = (0..<count).filter { rows[$0] == nil }
        guard missing.isEmpty else {
            throw ConfigError(file: dirs.joined(separator: ", "), path: "", message: "merge: \(missing.count) of \(count) points are in no shard (first: \(missing[0]))")
        }
        return (SweepPlan(file: dirs[0], name: name, axes: axes, metrics: metrics, points: []), (0..<count).map { rows[$0]! })
    }
}
