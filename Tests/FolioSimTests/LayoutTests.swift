import Foundation
import Testing
@testable import FolioSim

/// Kernel paths reach shared state only through the accessors that record it in the running
/// step's footprint (the reduction's soundness rests on that): no file of Kernel/ may use
/// the checker's unrecorded views.
@Suite struct LayoutTests {
    static let unrecorded = ["peek", "memory.frames", ".frames[", "mframes", "framesAtLastCheck", "checkState"]

    @Test func kernelPathsUseOnlyRecordingAccessors() throws {
        let dir = packageRoot.appendingPathComponent("Sources/FolioSim/Kernel")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }.sorted()
        #expect(files.count > 10)
        var found: [String] = []
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                for word in Self.unrecorded where code.contains(word) { found.append("\(f):\(n + 1): \(word)") }
            }
        }
        #expect(found.isEmpty, "\(found)")
    }
}
