import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExperiments

/// The trace reader's byte path (`PerfTrace.parseASCII`) reads exactly what the character
/// path reads: the same events, line and skip counts, and the same error at the same line.
@Suite(.enabled(if: Tier.fast)) struct PerfTraceBytesTests {
    static func bothPaths(_ text: String) -> (bytes: Result<PerfTrace, TraceError>?, characters: Result<PerfTrace, TraceError>) {
        let bytes: Result<PerfTrace, TraceError>?
        do throws(TraceError) {
            bytes = try PerfTrace.parseASCII(text).map { .success($0) }
        } catch {
            bytes = .failure(error)
        }
        let characters: Result<PerfTrace, TraceError>
        do throws(TraceError) {
            characters = .success(try PerfTrace.parseCharacters(text))
        } catch {
            characters = .failure(error)
        }
        return (bytes, characters)
    }

    static func expectAlike(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let (b, c) = bothPaths(text)
        #expect(b != nil, "\(what): not read by bytes", sourceLocation: sourceLocation)
        #expect(b == c, "\(what)", sourceLocation: sourceLocation)
    }

    @Test func theSortTraceAndASyntheticOneReadAlike() throws {
        let sort = try String(contentsOf: packageRoot.appendingPathComponent("Experiments/traces/sort.trace"), encoding: .utf8)
        Self.expectAlike(sort, "sort.trace")
        let synthetic = SyntheticTrace.text(bytes: 300_000)
        Self.expectAlike(synthetic, "synthetic")
        let t = try PerfTrace.parse(synthetic)
        #expect(t.events.contains { if case .fork = $0 { true } else { false } })
        #expect(t.events.contains { if case .advise = $0 { true } else { false } })
    }

    static let oddLines = [
        "x  12/34  1.0:   exceptions:page_fault_user: address=0x10000010 ip=0x1 error_code=0x6",
        "\t x  +12/-34  1.0:   exceptions:page_fault_user: address=0x10000010 error_code=0x7 \t ",
        "x  12//34  1.0:   exceptions:page_fault_kernel: address=10000010 error_code=2",
        "x  /12/34/  1.0:   exceptions:page_fault_user: address=0x0x10 error_code=0x6",
        "x  12/34/5  1.0:   exceptions:page_fault_user: address=0x10 error_code=0x6",
        "a b c d 12/34 exceptions:page_fault_user: address=0x10 error_code=0x6",
        "x  2147483648/1  exceptions:page_fault_user: address=0x10 error_code=0x6",
        "x  -2147483648/1  exceptions:page_fault_user: address=0x10 error_code=0x6",
        "x  12/34  exceptions:page_fault_user: address=0x800000000000 error_code=0x6",
        "x  12/34  exceptions:page_fault_user: address=0xffffffffffffffffff error_code=0x6",
        "x  12/34  exceptions:page_fault_user: address=0xABCdef000 error_code=0xFfx",
        "x  12/34  exceptions:page_fault_user:address=0x1000error_code=0x2",
        "x  12/34  exceptions:page_fault_user: error_code=0x2 address=0x5000 address=0x6000",
        "x  12/34  exceptions:page_fault_users: address=0x5000 error_code=0x2",
        "x  12/34  PERF_RECORD_MMAP2 12/34: [0x10000000(0x10000) @ 0 00:00 0 0]: rw-p //anon exceptions:page_fault_user: address=0x5000 error_code=0x2",
        "x  12/34  PERF_RECORD_SAMPLE exceptions:page_fault_user: address=0x5000 error_code=0x2",
        "x  12/34  1.0:   sched:sched_process_fork: comm=x pid=12 child_comm=x child_pid=13",
        "x  12/34  1.0:   syscalls:sys_enter_munmap: addr: 0x10000000, len: 0x00002000",
        "",
        "    ",
        "x  12/34  1.0: something else",
        "no pid here at all",
    ]

    @Test func oddLinesReadAlike() {
        for line in Self.oddLines {
            Self.expectAlike(line, line)
            Self.expectAlike(line + "\n", line)
            Self.expectAlike("x  1/1  exceptions:page_fault_user: address=0x1000 error_code=0x6\n" + line + "\n\n", line)
        }
        Self.expectAlike("x  12/34  exceptions:page_fault_user: address= error_code=0x6", "a fault without an address is an error")
        #expect(Self.bothPaths("x  12/34  exceptions:page_fault_user: ip=0x1").characters == .failure(TraceError(line: 1, message: "a page fault without address= and error_code=")))
    }

    /// Text that is not plain ASCII, or has carriage returns, is left to the character path.
    @Test func otherTextIsReadAsCharacters() {
        #expect(Self.bothPaths("x  12/34  exceptions:page_fault_user: address=0x1000 error_code=0x6\r\n").bytes == nil)
        #expect(Self.bothPaths("x  12/34  exceptions:page_fault_user: address=0x1000 error_code=0x6 é\n").bytes == nil)
    }

    /// Lines of the sort trace with bytes replaced, dropped or doubled (a seeded generator)
    /// read alike, event for event and error for error.
    @Test func mutatedLinesReadAlike() throws {
        let sort = try String(contentsOf: packageRoot.appendingPathComponent("Experiments/traces/sort.trace"), encoding: .utf8)
        let lines = sort.split(separator: "\n").map { Array($0.utf8) }
        let alphabet = Array(" /0x12:9afABF-+\t=_exceptions:page_fault_user:PERF_RECORD_MMAP2[]()@".utf8)
        var rng: UInt64 = 7
        func next(_ n: Int) -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((rng >> 33) % UInt64(n))
        }
        for _ in 0..<3000 {
            var l = lines[next(lines.count)]
            for _ in 0..<1 + next(3) {
                guard !l.isEmpty else { break }
                let i = next(l.count)
                switch next(3) {
                case 0: l[i] = alphabet[next(alphabet.count)]
                case 1: l.remove(at: i)
                default: l.insert(l[i], at: i)
                }
            }
            let text = String(decoding: l, as: UTF8.self)
            Self.expectAlike(text, text)
        }
    }
}
