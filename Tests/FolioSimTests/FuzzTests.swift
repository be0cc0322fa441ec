import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// Seeded mutations of every config under Experiments/ (deleted, duplicated and retyped
/// fields, extreme numbers and sizes, truncation, deep nesting, invalid UTF-8) go through the
/// library's entry points: loading either fails with one line naming the file (the CLI's exit
/// 2) or gives a scenario that runs, and explores when it has threads, to an outcome (exit 0
/// or 1). A crash, a trap or a runtime error would end the test process. Mutants whose work
/// is large run only their decoding here, so the suite stays short; the work limits
/// themselves are tested below. `FOLIOSIM_FUZZ_SEEDS=N FOLIOSIM_TESTS=full swift test --filter
/// FuzzTests` runs N mutants per config (default 6; the fast tier runs the first).
@Suite struct FuzzTests {
    static let seeds = Int(ProcessInfo.processInfo.environment["FOLIOSIM_FUZZ_SEEDS"] ?? "") ?? 6

    static let configs: [URL] = {
        let root = packageRoot.appendingPathComponent("Experiments")
        var out: [URL] = []
        for dir in [root, root.appendingPathComponent("races")] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            out += names.filter { $0.hasSuffix(".json5") }.sorted().map { dir.appendingPathComponent($0) }
        }
        return out
    }()

    static let extremeNumbers: [JSONValue] = [
        .int(0), .int(-1), .int(1 << 40), .number(9.3e18, text: "9.3e18"), .number(1e300, text: "1e300"),
        .number(.infinity, text: "Infinity"), .number(.nan, text: "NaN"), .number(0.5, text: "0.5"),
        .number(Double(UInt64.max), text: "18446744073709551615"),
    ]
    static let extremeStrings: [JSONValue] = [
        .string("64T"), .string("1T"), .string("0"), .string("4097"), .string("-4K"), .string("0xffffffffffffffff"),
        .string(""), .string("a\nb\u{1B}[31m"), .string("2M"), .string("0x7ffffffff000"),
    ]

    /// One mutation of `v`, chosen by `rng`.
    static func mutate(_ v: JSONValue, _ rng: inout SplitMix64, depth: Int = 0) -> JSONValue {
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        let roll = rng.next() % 100
        switch v {
        case .object(var members) where !members.isEmpty && depth < 6 && roll < 70:
            let i = Int(rng.next() % UInt64(members.count))
            switch rng.next() % 4 {
            case 0: members.remove(at: i)
            case 1: members.append((key: members[i].key + (rng.next() % 2 == 0 ? "" : "_"), value: members[i].value))
            default: members[i].value = mutate(members[i].value, &rng, depth: depth + 1)
            }
            return .object(members)
        case .array(var items) where !items.isEmpty && depth < 6 && roll < 70:
            let i = Int(rng.next() % UInt64(items.count))
            switch rng.next() % 4 {
            case 0: items.remove(at: i)
            case 1: items.insert(items[i], at: i)
            default: items[i] = mutate(items[i], &rng, depth: depth + 1)
            }
            return .array(items)
        default:
            switch rng.next() % 6 {
            case 0: return pick(extremeNumbers)
            case 1: return pick(extremeStrings)
            case 2: return .array([v])
            case 3: return .object([(key: "x", value: v)])
            case 4: return pick([.bool(true), .null])
            default:
                var nested = v
                for _ in 0..<(30 + Int(rng.next() % 60)) { nested = .array([nested]) }
                return nested
            }
        }
    }

    /// The bytes of one mutant: a mutated value written back, or the original text cut short
    /// or with bytes that are not UTF-8.
    static func mutant(_ text: String, _ value: JSONValue, seed: UInt64) -> Data {
        var rng = SplitMix64(seed: seed)
        switch rng.next() % 8 {
        case 0:
            let bytes = Array(text.utf8)
            return Data(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
        case 1:
            var bytes = Array(text.utf8)
            bytes.insert(contentsOf: [0xFF, 0xC3], at: Int(rng.next() % UInt64(bytes.count)))
            return Data(bytes)
        default:
            var v = value
            for _ in 0..<(1 + rng.next() % 3) { v = mutate(v, &rng) }
            return Data(JSONWriter.write(v).utf8)
        }
    }

    /// Page accesses and memory a scenario asks for, to keep the debug-build suite short.
    static func isSmall(_ s: Scenario) -> Bool {
        var work: UInt64 = 0
        for step in s.steps + s.threads.flatMap(\.steps) + s.after {
            switch step.op.body {
            case is WriteOp, is ReadOp, is TouchOp:
                work += (step.op.body.range!.size >> Geometry.pageShift) * UInt64(step.repeatCount)
            case is MmapOp, is MunmapOp, is MprotectOp, is MadviseOp, is MremapOp:
                work += UInt64(step.repeatCount)
            default:
                work += 1
            }
        }
        return work <= 1 << 14 && s.memoryBytes <= 1 << 30 && s.swapBytes <= 1 << 30
    }

    /// A config that does not load must say why in one line that names the file.
    static func checkOneLine(_ error: ConfigError, file: URL, _ label: String) {
        let line = error.description
        #expect(!line.contains("\n") && !line.contains("\u{1B}"), "\(label): \(line)")
        #expect(line.hasPrefix(file.path), "\(label): the error does not name the file: \(line)")
    }

    /// Mutants `seeds` of the config `name`.
    static func fuzz(_ name: String, seeds: Range<Int>) async throws {
        let url = Self.configs.first { $0.lastPathComponent == name }!
        let text = try String(contentsOf: url, encoding: .utf8)
        let value = try JSON5Parser.parse(text)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("foliosim-fuzz-\(getpid())-\(name)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Both branches are live: the config as written loads, and its bytes with two that
        // are not UTF-8 put in front are refused in one line.
        _ = try Scenario.load(path: url.path)
        let notUTF8 = dir.appendingPathComponent("not-utf8.json5")
        try Data([0xFF, 0xC3] + Array(text.utf8)).write(to: notUTF8)
        do {
            _ = try Scenario.load(path: notUTF8.path)
            Issue.record("\(name): a config that is not UTF-8 loaded")
        } catch {
            checkOneLine(error, file: notUTF8, "\(name) not UTF-8")
        }
        for k in seeds {
            let seed = UInt64(k) &* 0x9E37_79B9 &+ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF)
            let file = dir.appendingPathComponent("m\(k).json5")
            try Self.mutant(text, value, seed: seed).write(to: file)
            let scenario: Scenario
            do {
                scenario = try Scenario.load(path: file.path)
            } catch {
                checkOneLine(error, file: file, "\(name) mutant \(k)")
                continue
            }
            guard Self.isSmall(scenario) else { continue }
            // Audited: the incremental checks must agree with full ones on every mutant.
            let r = await ExperimentRunner.run(scenario, checks: .audit)
            #expect(r.world.auditFailures.isEmpty, "\(name) mutant \(k): \(r.world.auditFailures.prefix(3))")
            if !scenario.threads.isEmpty {
                // Random schedules never throw (only a scripted one can); each run ends in an
                // outcome, a violation or the step limit.
                let e = try await Explorer.explore(scenario, options: ExploreOptions(strategy: .random(seed: seed, count: 2), maxSteps: 2_000))
                #expect((1...2).contains(e.runs), "\(name) mutant \(k): \(e.runs) runs")
                #expect(!e.outcomes.isEmpty || e.counterexample != nil || e.tooLong != nil, "\(name) mutant \(k): no run ended")
            }
        }
    }

    /// The full tier runs mutants 1 to N-1 of each config, the fast tier mutant 0.
    @Test(.enabled(if: Tier.full, "full tier: fuzzing"), arguments: Self.configs.map(\.lastPathComponent))
    func mutantsLoadOrFailWithOneLine(name: String) async throws {
        try await Self.fuzz(name, seeds: 1..<max(1, Self.seeds))
    }

    @Test(.enabled(if: Tier.fast), arguments: Self.configs.map(\.lastPathComponent))
    func oneMutantLoadsOrFailsWithOneLine(name: String) async throws {
        try await Self.fuzz(name, seeds: 0..<1)
    }

    @Test(.enabled(if: Tier.fast)) func deepNestingIsASyntaxError() {
        let text = "{steps:" + String(repeating: "[", count: 35_000)
        #expect(throws: JSON5SyntaxError.self) { _ = try JSON5Parser.parse(text) }
        let flat = "{ a: " + String(repeating: "[", count: JSON5Parser.maxDepth - 1) + String(repeating: "]", count: JSON5Parser.maxDepth - 1) + " }"
        #expect(throws: Never.self) { _ = try JSON5Parser.parse(flat) }
    }

    @Test(.enabled(if: Tier.fast)) func workLimitsAreConfigErrors() {
        func decode(_ step: String) throws -> Scenario {
            try Scenario.decode(text: """
            { steps: [ { op: "mmap", proc: "P", addr: "0x10000", size: "4K", prot: "rw", map: "private-anon" }, \(step) ] }
            """, file: "t")
        }
        #expect(throws: ConfigError.self) { _ = try decode(#"{ op: "read", proc: "P", addr: "0x10000", size: "64T" }"#) }
        #expect(throws: ConfigError.self) { _ = try decode(#"{ op: "touch", proc: "P", addr: "0x10000", size: "4K", count: 67108865 }"#) }
        #expect(throws: ConfigError.self) { _ = try decode(#"{ op: "write", proc: "P", addr: "0x10000", repeat: 1000000000000, stride: "4K" }"#) }
        #expect(throws: ConfigError.self) { _ = try decode(#"{ op: "pin", proc: "P", addr: "0x10000", size: "8G", id: "p" }"#) }
        #expect(throws: Never.self) { _ = try decode(#"{ op: "write", proc: "P", addr: "0x10000", size: "256G" }"#) }
    }

    @Test(.enabled(if: Tier.fast)) func hugeStridesWrapInsteadOfTrapping() async throws {
        let s = try Scenario.decode(text: """
        { memory: "16M", steps: [ { op: "mmap", proc: "P", addr: "0x10000", size: "64K", prot: "rw", map: "private-anon" },
          { op: "touch", proc: "P", addr: "0x10000", size: "64K", pattern: "stride", stride: 140737488355328, count: 5, write: true } ] }
        """, file: "t")
        let r = await ExperimentRunner.run(s)
        #expect(r.errors.isEmpty && r.world.violations.isEmpty)
    }

    @Test(.enabled(if: Tier.fast)) func errorsAreOneLine() {
        let e = ConfigError(file: "a\nb.json5", path: "steps[0].x\u{1B}", message: "found \"\u{7}\"")
        #expect(e.description == #"a\nb.json5: steps[0].x\u{1b}: found "\u{7}""#)
    }
}
