import FolioSimModel
import FolioSimExplore

import Foundation

/// `foliosim sweep`: a config with a `sweep` section runs once per point of a grid.
///
/// ```
/// sweep: {
///   axes: { "thp.sizes": [ {}, { "16K": "always" } ], "semantics.cowCopy": [ "one-page", "aligned-range" ],
///           stride: [ "4K", "64K" ] },
///   metrics: [ "total.faults.total", "total.rssAnonPages" ],
/// }
/// ```
///
/// An axis whose name is a top-level config field (`memory`, `swap`, `semantics`, `thp`,
/// `check`) or a path into one (`thp.sizes`, `semantics.cowCopy`) sets that value, replacing
/// it whole; a preset given as a string becomes `{ preset: … }` when a switch is set. Any
/// other name is a parameter: steps use it as `"${name}"` (the whole string: the value as
/// written; inside a longer string: its text). Metrics are paths into `run --json`'s result.
/// Every point is decoded, and every metric checked against the result's shape, before
/// anything runs: a bad axis or metric is a config error.
public struct SweepPlan: Sendable {
    package let file: String
    /// The sweep's `name`.
    public let name: String
    package let axes: [SweepAxis]
    package let metrics: [String]
    /// The grid's points in order, the first axis varying slowest (empty for a plan rebuilt
    /// from shard outputs, which only writes files).
    package let points: [Scenario]

    /// The number of points (Int.max when it would overflow).
    public var pointCount: Int {
        axes.reduce(1) { n, axis in
            let (p, overflow) = n.multipliedReportingOverflow(by: axis.values.count)
            return overflow ? Int.max : p
        }
    }
    /// The index on each axis of point `p` (the first axis varies slowest).
    package func coordinates(of p: Int) -> [Int] {
        var coord = Array(repeating: 0, count: axes.count)
        var rest = p
        for i in axes.indices.reversed() {
            coord[i] = rest % axes[i].values.count
            rest /= axes[i].values.count
        }
        return coord
    }
}

package struct SweepAxis: Sendable, Equatable {
    package let name: String
    package let values: [JSONValue]
    /// A parameter the steps use (`"${name}"`), not a config field.
    package let isParameter: Bool

    /// The value as a table cell and legend label: a string as is, anything else as compact JSON.
    package func label(_ i: Int) -> String {
        if case .string(let s) = values[i] { return oneLine(s) }
        return JSONWriter.write(values[i], indent: nil)
    }
}

/// A point's result: the metric values (nil where the result has no such number, e.g. a
/// process that a point never created) and its invariant violations.
public struct SweepRow: Sendable, Equatable {
    package let point: Int
    package let metrics: [Double?]
    /// Invariant violations the point ran into.
    public let violations: Int
}

extension Sweep {
    static let configFields: Set<String> = ["memory", "swap", "semantics", "thp", "check", "name"]

    /// Reads a sweep config: its axes, metrics and the scenario of every point.
    public static func load(path: String) throws(ConfigError) -> SweepPlan {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, path: "", message: "cannot read the file (\(FileManager.default.fileExists(atPath: path) ? "not UTF-8 text or unreadable" : "no such file"))")
        }
        return try plan(text: text, file: path)
    }

    package static func plan(text: String, file: String) throws(ConfigError) -> SweepPlan {
        let root = try Scenario.parse(text: text, file: file)
        guard case .object(var members) = root else { throw ConfigError(file: file, path: "", message: "expected an object") }
        guard let si = members.firstIndex(where: { $0.key == "sweep" }) else {
            throw ConfigError(file: file, path: "sweep", message: "missing: a sweep config has a sweep section with axes and metrics")
        }
        let sweepValue = members.remove(at: si).value
        var f = try Fields(sweepValue, file: file, path: "sweep")
        guard let axesValue = f.raw("axes") else { throw f.fail("axes", "missing required field") }
        guard let metricsValue = f.raw("metrics") else { throw f.fail("metrics", "missing required field") }
        try f.finish()
        let axes = try decodeAxes(axesValue, file: file, base: .object(members))
        guard case .array(let mitems) = metricsValue, !mitems.isEmpty else {
            throw ConfigError(file: file, path: "sweep.metrics", message: "expected a non-empty array of metric paths")
        }
        var metrics: [String] = []
        for (i, m) in mitems.enumerated() {
            guard case .string(let s) = m, !s.isEmpty else {
                throw ConfigError(file: file, path: "sweep.metrics[\(i)]", message: "expected a path into the run --json result, e.g. \"total.faults.total\"")
            }
            metrics.append(s)
        }
        let shape = SweepPlan(file: file, name: "", axes: axes, metrics: metrics, points: [])
        guard shape.pointCount <= 100_000 else {
            throw ConfigError(file: file, path: "sweep.axes", message: "the grid has more than 100000 points")
        }
        var points: [Scenario] = []
        for p in 0..<shape.pointCount {
            let coord = shape.coordinates(of: p)
            var config = JSONValue.object(members)
            var where_: [String] = []
            for (axis, k) in zip(axes, coord) {
                where_.append("\(axis.name)=\(axis.label(k))")
                if axis.isParameter {
                    config = substitute(config, axis.name, axis.values[k])
                } else {
                    config = set(config, path: axis.name.split(separator: ".").map(String.init), axis.values[k])
                }
            }
            let pointFile = "\(file) (sweep point \(where_.joined(separator: ", ")))"
            points.append(try Scenario.decode(root: config, file: pointFile))
        }
        let name = points.first?.name ?? (file as NSString).lastPathComponent
        try checkMetrics(metrics, points: points, file: file)
        return SweepPlan(file: file, name: name, axes: axes, metrics: metrics, points: points)
    }

    private static func decodeAxes(_ v: JSONValue, file: String, base: JSONValue) throws(ConfigError) -> [SweepAxis] {
        guard case .object(let ms) = v, !ms.isEmpty else {
            throw ConfigError(file: file, path: "sweep.axes", message: "expected an object of axes, e.g. { \"thp.sizes\": [ … ], stride: [ … ] }")
        }
        var axes: [SweepAxis] = []
        for m in ms {
            let path = "sweep.axes.\(m.key)"
            guard case .array(let values) = m.value, !values.isEmpty else {
                throw ConfigError(file: file, path: path, message: "expected a non-empty array of values")
            }
            let first = String(m.key.split(separator: ".").first ?? "")
            let isField = configFields.contains(first)
            if !isField {
                guard !m.key.contains("."), !m.key.isEmpty,
                      m.key.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }) else {
                    throw ConfigError(file: file, path: path, message: "expected a config field (\(configFields.sorted().joined(separator: ", ")), or a path into one) or a parameter name of letters, digits, '_' and '-'")
                }
                guard uses(base, "${\(m.key)}") else {
                    throw ConfigError(file: file, path: path, message: "no step uses the parameter: write \"${\(m.key)}\" in a step field")
                }
            } else if m.key == "name" {
                throw ConfigError(file: file, path: path, message: "the name cannot be an axis")
            }
            axes.append(SweepAxis(name: m.key, values: values, isParameter: !isField))
        }
        return axes
    }

    /// Whether some string in the steps, threads or after sections contains `token`.
    private static func uses(_ v: JSONValue, _ token: String) -> Bool {
        switch v {
        case .string(let s): return s.contains(token)
        case .array(let a): return a.contains { uses($0, token) }
        case .object(let ms): return ms.contains { uses($0.value, token) }
        default: return false
        }
    }

    /// Replaces `${name}` in every string: a whole-string use by the value, a use inside a
    /// longer string by its text.
    static func substitute(_ v: JSONValue, _ name: String, _ value: JSONValue) -> JSONValue {
        let token = "${\(name)}"
        switch v {
        case .string(let s) where s == token: return value
        case .string(let s) where s.contains(token):
            let text: String
            switch value {
            case .string(let t): text = t
            case .number(_, let t): text = t
            default: text = JSONWriter.write(value, indent: nil)
            }
            return .string(s.replacingOccurrences(of: token, with: text))
        case .array(let a): return .array(a.map { substitute($0, name, value) })
        case .object(let ms): return .object(ms.map { ($0.key, substitute($0.value, name, value)) })
        default: return v
        }
    }

    /// `v` with the value at `path` replaced by `value`, creating objects on the way; a
    /// string where an object is needed (a preset name) becomes `{ preset: string }`.
    static func set(_ v: JSONValue, path: [String], _ value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var ms: [(key: String, value: JSONValue)]
        switch v {
        case .object(let o): ms = o
        case .string(let s): ms = [("preset", .string(s))]
        default: ms = []
        }
        if let i = ms.firstIndex(where: { $0.key == key }) {
            ms[i].value = set(ms[i].value, path: Array(path.dropFirst()), value)
        } else {
            ms.append((key, set(.null, path: Array(path.dropFirst()), value)))
        }
        return .object(ms)
    }

    /// Each metric must name a number in the result of every point: `total.…` and `memory.…`
    /// as in a run's JSON, `processes.NAME.…` for a process the point's steps name.
    private static func checkMetrics(_ metrics: [String], points: [Scenario], file: String) throws(ConfigError) {
        let shape = Report.json(RunResult.empty)
        guard case .object(let top) = shape, let total = top.first(where: { $0.key == "total" })?.value else { return }
        for (i, m) in metrics.enumerated() {
            let parts = m.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let path = "sweep.metrics[\(i)]"
            var probe: JSONValue?
            if parts.first == "processes" && parts.count >= 3 {
                guard points.allSatisfy({ $0.processNames.contains(parts[1]) }) else {
                    throw ConfigError(file: file, path: path, message: "\(JSONWriter.quote(m)): process \(JSONWriter.quote(parts[1])) is not named by the steps of every point")
                }
                probe = parts[2] == "exited" ? .bool(false) : lookup(total, Array(parts.dropFirst(2)))
            } else if parts.first == "total" || parts.first == "memory" {
                probe = lookup(shape, parts)
            }
            switch probe {
            case .number?, .bool?: continue
            case .object(let ms)?:
                throw ConfigError(file: file, path: path, message: "\(JSONWriter.quote(m)) is an object; expected a number, one of: \(ms.map { "\(m).\($0.key)" }.prefix(6).joined(separator: ", "))")
            default:
                throw ConfigError(file: file, path: path, message: "\(JSONWriter.quote(m)) is not a number in the run --json result (expected e.g. total.faults.total, total.mthp.64kB.anon_fault_alloc, total.rssAnonPages, memory.peakUsedPages, processes.NAME.faults.wpCopy)")
            }
        }
    }

    /// The value at a dotted path in a JSON result, nil if there is none.
    package static func lookup(_ v: JSONValue, _ path: [String]) -> JSONValue? {
        var cur = v
        for k in path {
            guard case .object(let ms) = cur, let next = ms.first(where: { $0.key == k })?.value else { return nil }
            cur = next
        }
        return cur
    }

    /// A metric's number in a result (booleans count 0 or 1).
    static func number(_ v: JSONValue, _ metric: String) -> Double? {
        switch lookup(v, metric.split(separator: ".", omittingEmptySubsequences: false).map(String.init)) {
        case .number(let d, _)?: d
        case .bool(let b)?: b ? 1 : 0
        default: nil
        }
    }
}

/// Namespace of the sweep (Sweep.swift: the plan; SweepRun.swift: running and output;
/// SweepChart.swift: the SVG charts).
public enum Sweep {}

extension RunResult {
    /// The result of running nothing: the shape of every result, for checking metric paths.
    static var empty: RunResult {
        let s = Scenario(name: "", semanticsName: "v6.18", semantics: .v6_18, memoryBytes: 1 << 20, swapBytes: 0, thp: THPSettings(),
                         check: .off, steps: [], threads: [], after: [], explore: nil, expect: nil)
        return RunResult(scenario: s, world: World(memoryBytes: 1 << 20), errors: [], pinChecks: [], reads: [], peakUsedPages: 0, trace: [])
    }
}
