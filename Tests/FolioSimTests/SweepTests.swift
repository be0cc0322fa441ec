import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// `foliosim sweep`: the grid, its outputs (deterministic, shardable, valid SVG) and its
/// config errors.
@Suite struct SweepTests {
    /// The schema of the issue, names exactly so, on a small workload.
    static let config = """
        { name: "grid", memory: "256M", thp: { enabled: "madvise" },
          sweep: {
            axes: {
              "thp.sizes": [ {}, { "16K": "always" }, { "64K": "always", "32K": "always", "16K": "always" } ],
              "semantics.cowCopy": [ "one-page", "aligned-range" ],
              stride: [ "4K", "64K" ],        // a named parameter: steps use "${stride}"
            },
            metrics: [ "total.faults.total", "total.mthp.64kB.anon_fault_alloc", "total.rssAnonPages" ],
          },
          steps: [
            { op: "mmap", proc: "P", addr: "0x40000000", size: "4M", prot: "rw", map: "private-anon" },
            { op: "touch", proc: "P", addr: "0x40000000", size: "4M", pattern: "stride", stride: "${stride}", write: true },
            { op: "fork", proc: "P", child: "C" },
            { op: "touch", proc: "C", addr: "0x40000000", size: "4M", pattern: "stride", stride: "${stride}", write: true, value: 2 } ] }
        """

    func tempDir(_ name: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("foliosim-sweep-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: d)
        return d
    }

    func files(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) {
            out[f] = try Data(contentsOf: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(f)))
        }
        return out
    }

    @Test(.enabled(if: Tier.fast)) func theGridRunsEveryPointAndMatchesSingleRuns() async throws {
        let plan = try Sweep.plan(text: Self.config, file: "grid.json5")
        #expect(plan.points.count == 12)
        #expect(plan.axes.map(\.name) == ["thp.sizes", "semantics.cowCopy", "stride"])
        #expect(plan.axes.map(\.isParameter) == [false, false, true])
        let rows = await Sweep.run(plan, points: Array(plan.points.indices), jobs: 2)
        #expect(rows.map(\.point) == Array(0..<12))
        // Point 11: 64K+32K+16K, aligned-range, stride 64K, checked against a run of its own.
        let single = try Scenario.decode(text: """
            { name: "one", memory: "256M", semantics: { preset: "v6.18", cowCopy: "aligned-range" },
              thp: { enabled: "madvise", sizes: { "64K": "always", "32K": "always", "16K": "always" } },
              steps: [
                { op: "mmap", proc: "P", addr: "0x40000000", size: "4M", prot: "rw", map: "private-anon" },
                { op: "touch", proc: "P", addr: "0x40000000", size: "4M", pattern: "stride", stride: "64K", write: true },
                { op: "fork", proc: "P", child: "C" },
                { op: "touch", proc: "C", addr: "0x40000000", size: "4M", pattern: "stride", stride: "64K", write: true, value: 2 } ] }
            """, file: "one.json5")
        let r = Report.json(await ExperimentRunner.run(single))
        #expect(rows[11].metrics == plan.metrics.map { Sweep.number(r, $0) })
        #expect(rows[11].metrics[1] ?? 0 > 0)
        let csv = Sweep.csv(plan, rows)
        #expect(csv.hasPrefix("thp.sizes,semantics.cowCopy,stride,total.faults.total,total.mthp.64kB.anon_fault_alloc,total.rssAnonPages\n"))
        #expect(csv.split(separator: "\n").count == 13)
    }

    @Test(.enabled(if: Tier.fast)) func outputsAreDeterministicShardableAndValidSVG() async throws {
        let file = tempDir("config") + ".json5"
        try Self.config.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let plan = try Sweep.load(path: file)
        let a = tempDir("a"), b = tempDir("b"), merged = tempDir("merged")
        let shards = (1...3).map { tempDir("shard\($0)") }
        defer { for d in [a, b, merged] + shards { try? FileManager.default.removeItem(atPath: d) } }
        let rowsA = await Sweep.run(plan, points: Array(plan.points.indices), jobs: 1)
        let written = try Sweep.write(plan, rowsA, to: a)
        #expect(written.count == 2 + plan.metrics.count)
        _ = try Sweep.write(plan, await Sweep.run(plan, points: Array(plan.points.indices), jobs: 3), to: b)
        #expect(try files(a) == files(b))
        for (k, d) in shards.enumerated() {
            let pts = Sweep.shardPoints(plan, shard: (k + 1, 3))
            #expect(pts.count == 4)
            _ = try Sweep.write(plan, await Sweep.run(plan, points: pts, jobs: 2), to: d, shard: (k + 1, 3))
        }
        let m = try Sweep.merge(shards)
        _ = try Sweep.write(m.plan, m.rows, to: merged)
        #expect(try files(merged) == files(a))
        #expect(throws: ConfigError.self) { try Sweep.merge(Array(shards.prefix(2))) }
        for (name, data) in try files(a) where name.hasSuffix(".svg") {
            #expect(Self.wellFormedXML(data), "\(name) is not well-formed XML")
            let text = String(decoding: data, as: UTF8.self)
            #expect(text.contains("<rect") && text.contains("thp.sizes") && text.contains("semantics.cowCopy, stride"))
        }
    }

    @Test(.enabled(if: Tier.fast)) func aNumericFirstAxisIsDrawnAsLines() async throws {
        let text = Self.config.replacingOccurrences(of: "stride: [ \"4K\", \"64K\" ],        // a named parameter: steps use \"${stride}\"", with: "")
            .replacingOccurrences(of: "axes: {", with: "axes: { stride: [ \"4K\", \"16K\", \"64K\" ],")
        let plan = try Sweep.plan(text: text, file: "lines.json5")
        #expect(plan.axes[0].name == "stride")
        let rows = await Sweep.run(plan, points: Array(plan.points.indices), jobs: 2)
        let svg = SweepChart.svg(plan, rows, metric: 0)
        #expect(svg.contains("<polyline") && Self.wellFormedXML(Data(svg.utf8)))
        #expect(svg.contains(">64K+32K+16K, aligned-range<"))
    }

    /// A damaged shard file is an error, never a crash.
    @Test(.enabled(if: Tier.fast)) func damagedShardsAreErrors() throws {
        let d = tempDir("damaged")
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        for json in [
            #"{ "name": "g", "axes": [ { "name": "a", "values": [1, 2] } ], "metrics": ["m"], "pointCount": 1e300, "points": [] }"#,
            #"{ "name": "g", "axes": [ { "name": "a", "values": [] } ], "metrics": ["m"], "pointCount": 0, "points": [] }"#,
            #"{ "name": "g", "axes": [ { "name": "a", "values": [1, 2] } ], "metrics": ["m"], "pointCount": 2, "points": [ { "index": 1e30, "violations": 0 } ] }"#,
            #"{ "name": "g", "axes": [ { "name": "a", "values": [1, 2] } ], "metrics": ["m"], "pointCount": 2, "points": [ { "index": 0, "violations": 0 } ] }"#,
        ] {
            try json.write(toFile: d + "/sweep.json", atomically: true, encoding: .utf8)
            #expect(throws: ConfigError.self) { try Sweep.merge([d]) }
        }
    }

    @Test(.enabled(if: Tier.fast)) func badAxesAndMetricsAreConfigErrors() {
        let cases: [(String, String, String)] = [
            ("\"total.rssAnonPages\" ]", "\"total.nope\" ]", "sweep.metrics[2]"),
            ("\"total.rssAnonPages\" ]", "\"total.faults\" ]", "is an object"),
            ("\"total.rssAnonPages\" ]", "\"processes.X.faults.total\" ]", "process \"X\""),
            ("stride: [", "strid: [", "no step uses the parameter"),
            ("[ \"one-page\", \"aligned-range\" ]", "[ \"sideways\" ]", "semantics.cowCopy"),
            ("[ \"4K\", \"64K\" ]", "[]", "non-empty array"),
        ]
        for (old, new, expected) in cases {
            let text = Self.config.replacingOccurrences(of: old, with: new)
            #expect(text != Self.config)
            do {
                _ = try Sweep.plan(text: text, file: "bad.json5")
                Issue.record("accepted: \(new)")
            } catch {
                #expect(error.description.contains(expected) && !error.description.contains("\n"), "\(error.description)")
            }
        }
        #expect(throws: ConfigError.self) { try Scenario.decode(text: Self.config, file: "grid.json5") }
    }

    /// Experiments/sweeps/mthp-cow/ holds what the tool writes for its config.
    @Test(.enabled(if: Tier.full, "full tier: the whole committed sweep"))
    func theCommittedSweepOutputIsCurrent() async throws {
        let dir = packageRoot.appendingPathComponent("Experiments/sweeps").path
        let plan = try Sweep.load(path: dir + "/mthp-cow.json5")
        let out = tempDir("committed")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try Sweep.write(plan, await Sweep.run(plan, points: Array(plan.points.indices), jobs: 2), to: out)
        #expect(try files(out) == files(dir + "/mthp-cow"))
    }

    static func wellFormedXML(_ data: Data) -> Bool {
        let parser = XMLParser(data: data)
        return parser.parse()
    }
}
