import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// Inputs that once trapped or hung: each is now a one-line error naming the file and the
/// field, or a correct result (issue 18, item 1; the rest of that issue is open).
@Suite(.enabled(if: Tier.fast)) struct HostileInputTests {
    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("foliosim-hostile-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    static func traceConfig(_ trace: String) throws -> String {
        let d = try tempDir()
        try trace.write(to: d.appendingPathComponent("t.trace"), atomically: true, encoding: .utf8)
        let config = d.appendingPathComponent("c.json5")
        try #"{ memory: "1G", steps: [ { op: "trace", file: "t.trace" } ] }"#.write(to: config, atomically: true, encoding: .utf8)
        return config.path
    }

    static let mmap2 = "            sort  1612/1612  26103.557937: PERF_RECORD_MMAP2 1612/1612: [0x7ffffffde000(LEN) @ 0x7ffffffde000 00:00 0 0]: rw-p [stack]\n"

    @Test func anMMAP2LengthBeyondUserSpaceIsAnErrorNotATrap() throws {
        let path = try Self.traceConfig(Self.mmap2.replacingOccurrences(of: "LEN", with: "0xfffffffffffff000"))
        #expect(throws: ConfigError.self) { try Scenario.load(path: path) }
        do { _ = try Scenario.load(path: path) } catch {
            #expect(error.path == "steps[0].file" && error.message.contains("line 1") && error.message.contains("beyond the 47-bit"), "\(error)")
        }
        // The same record with a real length replays.
        let ok = try Self.traceConfig(Self.mmap2.replacingOccurrences(of: "LEN", with: "0x21000"))
        #expect(try Scenario.load(path: ok).steps.count == 1)
    }

    @Test func aSyscallLengthBeyondUserSpaceIsSkippedAsTheKernelRefusesIt() throws {
        let munmap = "            sort  1612/1612  26103.6: syscalls:sys_enter_munmap: addr: 0x7ffffffde000, len: 0xfffffffffffff000\n"
        let t = try PerfTrace.parse(Self.mmap2.replacingOccurrences(of: "LEN", with: "0x21000") + munmap)
        #expect(t.events.count == 1 && t.skipped == 1)
    }

    @Test func aFileWithNoPerfEventsIsAnError() throws {
        let path = try Self.traceConfig("this is not perf script output\n")
        do {
            _ = try Scenario.load(path: path)
            Issue.record("a trace without events loaded")
        } catch {
            #expect(error.path == "steps[0].file" && error.message.contains("holds no perf events"), "\(error)")
        }
    }

    /// A sweep.json as `sweep --out` writes it, with `axes` and one metric value as given.
    static func shard(axes: String, metric: String) throws -> String {
        let d = try tempDir()
        let text = """
        { "format": "foliosim sweep 1", "name": "s", "axes": \(axes), "metrics": ["m"], "pointCount": 1,
          "points": [ { "index": 0, "values": { "a": 1 }, "metrics": { "m": \(metric) }, "violations": 0 } ] }
        """
        try text.write(to: d.appendingPathComponent("sweep.json"), atomically: true, encoding: .utf8)
        return d.path
    }

    @Test func aShardWithoutAxesIsAnError() throws {
        let dir = try Self.shard(axes: "[]", metric: "1")
        do {
            _ = try Sweep.merge([dir])
            Issue.record("merged a shard without axes")
        } catch {
            #expect(error.path == "axes" && error.message == "expected at least one axis", "\(error)")
        }
    }

    @Test(arguments: ["1e999", "Infinity", "-Infinity", "NaN"])
    func nonFiniteMetricValuesAreRefused(_ v: String) throws {
        let dir = try Self.shard(axes: #"[ { "name": "a", "values": [1] } ]"#, metric: v)
        do {
            _ = try Sweep.merge([dir])
            Issue.record("merged a metric value of \(v)")
        } catch {
            #expect(error.path == "points[0].metrics.m" && error.message.hasPrefix("expected a finite number"), "\(error)")
        }
    }

    @Test func aSubnormalMetricMergesAndCharts() throws {
        let dir = try Self.shard(axes: #"[ { "name": "a", "values": [1] } ]"#, metric: "5e-324")
        let (plan, rows) = try Sweep.merge([dir])
        #expect(rows[0].metrics == [Double.leastNonzeroMagnitude])
        #expect(SweepChart.tickStep(.leastNonzeroMagnitude) == .leastNonzeroMagnitude)
        let svg = SweepChart.svg(plan, rows, metric: 0)
        #expect(svg.hasSuffix("</svg>\n") && svg.components(separatedBy: "stroke=\"#dddddd\"").count == 3, "ticks 0 and 5e-324")
    }

    /// Each kind of name, written `NAME` in a config that is valid with a good name.
    static let nameConfigs: [(field: String, config: String)] = [
        ("steps[0].proc", #"{ steps: [ { op: "mmap", proc: "NAME", addr: "0x10000", size: "4K", prot: "rw", map: "private-anon" } ] }"#),
        ("steps[1].child", #"{ steps: [ { op: "mmap", proc: "P", addr: "0x10000", size: "4K", prot: "rw", map: "private-anon" }, { op: "fork", proc: "P", child: "NAME" } ] }"#),
        ("steps[1].id", #"{ steps: [ { op: "mmap", proc: "P", addr: "0x10000", size: "4K", prot: "rw", map: "private-anon" }, { op: "pin", proc: "P", addr: "0x10000", id: "NAME" } ] }"#),
        ("steps[1].pipe", #"{ steps: [ { op: "mmap", proc: "P", addr: "0x10000", size: "4K", prot: "rw", map: "private-anon" }, { op: "vmsplice", proc: "P", addr: "0x10000", pipe: "NAME" } ] }"#),
        ("threads.NAME", #"{ steps: [ { op: "mmap", proc: "P", addr: "0x10000", size: "4K", prot: "rw", map: "private-anon" } ], threads: { "NAME": [ { op: "write", proc: "P", addr: "0x10000" } ] } }"#),
    ]

    @Test func namesAreLettersDigitsAndFourMarks() throws {
        for (field, config) in Self.nameConfigs {
            for good in ["a", "pid1234:2", "A-b_c.d", String(repeating: "x", count: 64)] {
                #expect(throws: Never.self, "\(field) = \(good)") { try Scenario.decode(text: config.replacingOccurrences(of: "NAME", with: good), file: "n.json5") }
            }
            for bad in ["", "\\u001b[31mred", "a b", "é", "a/b", String(repeating: "x", count: 65)] {
                do {
                    _ = try Scenario.decode(text: config.replacingOccurrences(of: "NAME", with: bad), file: "n.json5")
                    Issue.record("\(field) accepted \(bad)")
                } catch {
                    let prefix = field.components(separatedBy: "NAME")[0]
                    #expect(error.path.hasPrefix(prefix) && error.message.contains("name is 1 to 64 letters, digits"), "\(field) \(bad): \(error)")
                    #expect(!error.description.contains("\u{1b}"), "the escape is escaped in the one-line error")
                }
            }
        }
    }
}
