import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The ops' reference is generated from their definitions (`OpRegistry`); README's table and
/// `foliosim help ops` must be that reference.
@Suite(.enabled(if: Tier.fast)) struct OpReferenceTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func readmeOpTableIsTheGeneratedOne() throws {
        let readme = try String(contentsOf: Self.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "| op | fields | what it does |"))
        let end = try #require(readme.range(of: "\n\n", range: start.lowerBound..<readme.endIndex))
        let table = String(readme[start.lowerBound..<end.lowerBound]) + "\n"
        #expect(table == OpReference.markdownTable, "regenerate README's table with `foliosim help ops --markdown`")
    }

    @Test func everyOpIsDecodedByItsDefinitionAndListedOnce() throws {
        let names = OpRegistry.all.map(\.name)
        #expect(Set(names).count == names.count)
        for name in names {
            #expect(OpReference.text.contains("\n  \(name)\n"), "help ops lists \(name)")
            #expect(OpReference.markdownTable.contains("| `\(name)` |"))
        }
        // An unknown op's error lists every op, from the same registry.
        let text = #"{ steps: [ { op: "nosuch", proc: "P" } ] }"#
        #expect(throws: ConfigError.self) { try Scenario.decode(text: text, file: "x.json5") }
        do {
            _ = try Scenario.decode(text: text, file: "x.json5")
        } catch {
            #expect(error.message.contains(names.joined(separator: ", ")))
        }
    }

    @Test func opsRoundTripThroughTheirDefinitions() throws {
        let text = """
        { steps: [
          { op: "mmap", proc: "P", addr: "0x40000000", size: "1M", prot: "rw", map: "private-anon" },
          { op: "write", proc: "P", addr: "0x40000000", size: "64K", value: 3, repeat: 2, stride: "64K" },
          { op: "pin", proc: "P", addr: "0x40000000", size: "8K", flags: ["longterm", "fast"], id: "p" },
          { op: "fork", proc: "P", child: "C" },
        ] }
        """
        let s = try Scenario.decode(text: text, file: "ops.json5")
        #expect(s.steps.map(\.op.name) == ["mmap", "write", "pin", "fork"])
        #expect(s.steps[1].op(1) == Op(WriteOp(proc: "P", addr: 0x4001_0000, size: 0x10000, value: 3)))
        #expect(s.steps[2].op.summary == "pin fast P 0x40000000 8K as p")
        #expect(s.steps[3].op.process == "P" && s.processNames == ["P", "C"])
        #expect(s.steps[1].highestAddress == 0x4002_0000)
    }
}
