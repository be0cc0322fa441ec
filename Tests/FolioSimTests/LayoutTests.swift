import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// Kernel paths reach shared state only through the accessors that record it in the running
/// step's footprint (the reduction's soundness rests on that): no file of Kernel/ may use
/// the checker's unrecorded views.
@Suite(.enabled(if: Tier.fast)) struct LayoutTests {
    static let unrecorded = ["peek", "memory.frames", ".frames[", "mframes", "framesAtLastCheck", "checkState"]

    /// Kernel paths keep no checker state: what the user wrote is the checker's record
    /// (`WrittenShadow`), which kernel paths only report to through `userData`.
    static let checkerState = ["shadow", "Shadow", "checkState", "violations", "checkInvariants", "recordViolation"]

    @Test func kernelPathsUseOnlyRecordingAccessors() throws {
        #expect(try Self.kernelLines(containing: Self.unrecorded).isEmpty)
        // The same scan finds them where they belong: the checker uses them.
        #expect(try !Self.lines(in: "Check", containing: Self.unrecorded).isEmpty, "the scan finds no unrecorded view in Check/")
    }

    @Test func kernelPathsKeepNoCheckerState() throws {
        #expect(try Self.kernelLines(containing: Self.checkerState).isEmpty)
        #expect(try !Self.kernelLines(containing: ["userData."]).isEmpty, "the kernel paths report user data somewhere")
    }

    /// A kernel path compares a refcount (`refcountIs`): the state cache's digest folds only
    /// the comparison, so a path that read the number itself could learn more than the digest
    /// knows. Trace text and violation reports may print it.
    @Test func kernelPathsOnlyCompareRefcounts() throws {
        let reads = try Self.kernelLines(containing: ["memory.refcount("])
        #expect(reads.count == 2, "the COW trace text and one report print the count: \(reads)")
        #expect(try !Self.kernelLines(containing: ["memory.refcountIs("]).isEmpty)
    }

    /// `file:line: word` for every code line of Kernel/ (comments left out) with one of `words`.
    static func kernelLines(containing words: [String]) throws -> [String] {
        try lines(in: "Kernel", containing: words)
    }

    /// The same for Sources/FolioSimModel/`folder`.
    static func lines(in folder: String, containing words: [String]) throws -> [String] {
        let dir = packageRoot.appendingPathComponent("Sources/FolioSimModel/\(folder)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }.sorted()
        #expect(files.count > 10)
        var found: [String] = []
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                for word in words where code.contains(word) { found.append("\(f):\(n + 1): \(word)") }
            }
        }
        return found
    }
}
