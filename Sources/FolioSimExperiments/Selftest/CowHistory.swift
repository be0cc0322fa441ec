import FolioSimModel
import FolioSimExplore

/// `foliosim cow-selftest --history`: the selftest under every preset, as a table of test
/// case × preset with the passed and failed counts of each cell. The presets run in
/// parallel, one task each, on all cores.
public struct CowHistory: Sendable {
    package var reports: [CowSelftest.Report]

    /// Runs the selftest under every preset (`sizes`: the THP sizes to test, nil for the default ones).
    public static func run(sizes: [UInt64]? = nil) async -> CowHistory {
        let presets = Semantics.presets
        let reports = await withTaskGroup(of: (Int, CowSelftest.Report).self) { group in
            for (i, p) in presets.enumerated() {
                group.addTask { (i, await CowSelftest.run(semanticsName: p.name, semantics: p.semantics, sizes: sizes)) }
            }
            var out = [CowSelftest.Report?](repeating: nil, count: presets.count)
            for await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
        return CowHistory(reports: reports)
    }

    /// The test cases in the kernel's order.
    package var testCases: [String] {
        var seen = Set<String>()
        return reports.first?.tests.map(\.testCase).filter { seen.insert($0).inserted } ?? []
    }

    /// Passed and failed tests of `testCase` in `report` (skips are in neither).
    package static func cell(_ report: CowSelftest.Report, _ testCase: String) -> (passed: Int, failed: Int) {
        var p = 0, f = 0
        for t in report.tests where t.testCase == testCase {
            switch t.outcome {
            case .pass, .xfail: p += 1
            case .fail, .xpass: f += 1
            case .skip: break
            }
        }
        return (p, f)
    }

    /// The table: one row per test case, one column per preset, `passed/failed` per cell,
    /// and a totals row.
    public var text: String {
        let cases = testCases
        let width = max(12, cases.map(\.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        func lpad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        let colWidth = 9
        var out = pad("test case (passed/failed)", width) + reports.map { lpad($0.semantics, colWidth) }.joined() + "\n"
        for c in cases {
            out += pad(c, width) + reports.map { r in
                let (p, f) = Self.cell(r, c)
                return lpad("\(p)/\(f)", colWidth)
            }.joined() + "\n"
        }
        out += pad("total", width) + reports.map { r in lpad("\(r.count(.pass) + r.count(.xfail))/\(r.count(.fail) + r.count(.xpass))", colWidth) }.joined() + "\n"
        out += pad("skipped", width) + reports.map { lpad("\($0.count(.skip))", colWidth) }.joined() + "\n"
        return out
    }

    /// The table as Markdown (Experiments/history.md holds it).
    public var markdown: String {
        var out = "| test case | " + reports.map(\.semantics).joined(separator: " | ") + " |\n"
        out += "|---|" + String(repeating: "---|", count: reports.count) + "\n"
        for c in testCases {
            out += "| \(c) | " + reports.map { r in let (p, f) = Self.cell(r, c); return "\(p)/\(f)" }.joined(separator: " | ") + " |\n"
        }
        out += "| total | " + reports.map { "\($0.count(.pass) + $0.count(.xfail))/\($0.count(.fail) + $0.count(.xpass))" }.joined(separator: " | ") + " |\n"
        out += "| skipped | " + reports.map { "\($0.count(.skip))" }.joined(separator: " | ") + " |\n"
        return out
    }

    /// `cow-selftest --history --json`.
    public var json: JSONValue {
        .object([
            ("presets", .array(reports.map { .string($0.semantics) })),
            ("testCases", .array(testCases.map { c in
                .object([("testCase", .string(c)), ("results", .object(reports.map { r in
                    let (p, f) = Self.cell(r, c)
                    return (r.semantics, .object([("passed", .int(p)), ("failed", .int(f))]))
                }))])
            })),
            ("totals", .object(reports.map { r in
                (r.semantics, .object(CowSelftest.Outcome.allCases.map { ($0.rawValue, .int(r.count($0))) }))
            })),
        ])
    }

    /// One run as data: every test with its number, name, outcome and messages, and the totals.
    public static func json(_ r: CowSelftest.Report) -> JSONValue {
        .object([
            ("semantics", .string(r.semantics)),
            ("plan", .int(r.tests.count)),
            ("tests", .array(r.tests.map { t in
                .object([("number", .int(t.number)), ("testCase", .string(t.testCase)), ("memoryType", .string(t.memoryType)),
                         ("outcome", .string(t.outcome.rawValue)), ("messages", .array(t.messages.map { .string($0) }))])
            })),
            ("totals", .object(CowSelftest.Outcome.allCases.map { ($0.rawValue, .int(r.count($0))) })),
        ])
    }
}
