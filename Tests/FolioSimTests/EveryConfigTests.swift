import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// Every config under Experiments/ (all subdirectories), listed when the tests start, so a
/// new config is covered without a change here, runs and meets its `expect` (without one: no
/// violation), the way the CLI checks it:
/// - a config with `threads` is explored (`foliosim explore`): in the full tier with its own
///   `explore` options (bound, strategy, caps; the largest of the scaling set at bound 1 or 0,
///   `fullOptions`), `expect` checked whole; in the fast tier at
///   preemption bound 0 (random and PCT: 40 schedules) and at most 100 schedules, where the
///   parts of `expect` that hold at any bound are checked: `violation: "none"` finds none, a
///   named violation is the only one found, and every outcome seen is a listed one;
/// - a sweep config (`foliosim sweep`) runs every point in the full tier and its first point
///   in the fast tier (up to `fastRunWork`, below; above, its points are only decoded), each
///   point meeting `expect` (without one: no violation);
/// - any other config runs to completion (`foliosim run`) with no op failing. These have no
///   bound to lower: the fast tier runs them at their own size up to `fastRunWork` page
///   accesses and, above that, only loads them (the full tier runs them all).
/// Configs of Experiments/host are the kernel-diff workloads: here they run in FolioSim only.
@Suite struct EveryConfigTests {
    static let root = packageRoot.appendingPathComponent("Experiments")

    /// Paths under Experiments/ of every `.json5` file, sorted.
    static let configs: [String] = {
        guard let e = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var out: [String] = []
        while let p = e.nextObject() as? String {
            if p.hasSuffix(".json5") { out.append(p) }
        }
        return out.sorted()
    }()

    enum Kind {
        case run(Scenario)
        case explore(Scenario)
        case sweep(SweepPlan)
    }

    static func load(_ name: String) throws -> Kind {
        let path = root.appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        if case .object(let members) = try JSON5Parser.parse(text), members.contains(where: { $0.key == "sweep" }) {
            return .sweep(try Sweep.load(path: path))
        }
        let s = try Scenario.load(path: path)
        return s.threads.isEmpty ? .run(s) : .explore(s)
    }

    /// Runs one scenario to completion and checks `expect` and that no op failed.
    static func checkRun(_ s: Scenario, _ label: String) async {
        let r = await ExperimentRunner.run(s)
        #expect(Report.matches(r), "\(label): expected \(s.expect.map { ExploreReport.expectation($0) } ?? "no violation"), violations \(r.world.violations.prefix(3))")
        #expect(r.errors.isEmpty, "\(label): \(r.errors.prefix(3))")
    }

    /// Page accesses and operations a run-to-completion config asks for (`FuzzTests.isSmall`'s measure).
    static func work(_ s: Scenario) -> UInt64 {
        var work: UInt64 = 0
        for step in s.steps + s.after {
            switch step.op.body {
            case is WriteOp, is ReadOp, is TouchOp:
                work += (step.op.body.range!.size >> Geometry.pageShift) * UInt64(step.repeatCount)
            case let t as TraceOp:
                work += UInt64(t.trace.events.count)
            default:
                work += UInt64(step.repeatCount)
            }
        }
        return work
    }
    static let fastRunWork: UInt64 = 1 << 16

    /// The fast tier's options: bound 0 for a DFS, 40 schedules for random and PCT, a scripted
    /// schedule as it is; at most 100 schedules.
    static func smallOptions(_ s: Scenario) -> ExploreOptions {
        var o = s.explore ?? ExploreOptions()
        switch o.strategy {
        case .dfs(let bound, let reduction): o.strategy = .dfs(preemptionBound: min(bound ?? 0, 0), reduction: reduction)
        case .random(let seed, let count): o.strategy = .random(seed: seed, count: min(count, 40))
        case .pct(let seed, let depth, let count): o.strategy = .pct(seed: seed, depth: depth, count: min(count, 40))
        case .scripted: break
        }
        o.maxSchedules = min(o.maxSchedules, 100)
        o.jobs = nil
        return o
    }

    /// The full tier's options: the config's own, but the scaling set's members with 5 or more
    /// threads, which take many minutes at their own bounds in a debug build, run at bound 1
    /// (6 threads: 0), as the tests always ran them; `foliosim bench` measures them at their
    /// own bounds in a release build.
    static func fullOptions(_ name: String, _ s: Scenario) -> ExploreOptions {
        var o = s.explore ?? ExploreOptions()
        if name.hasPrefix("races/scaling-"), s.threads.count >= 5, case .dfs(let b, let r) = o.strategy {
            o.strategy = .dfs(preemptionBound: min(b ?? Int.max, s.threads.count >= 6 ? 0 : 1), reduction: r)
        }
        return o
    }

    @Test(.enabled(if: Tier.fast)) func everyDirectoryOfConfigsIsFound() {
        for dir in ["", "races/", "host/", "traces/", "sweeps/", "policy-study/"] {
            #expect(Self.configs.contains { $0.hasPrefix(dir) && !$0.dropFirst(dir.count).contains("/") }, "no config in Experiments/\(dir)")
        }
        #expect(Self.configs.contains("races/ryan-order0.json5") && Self.configs.contains("quickstart.json5"))
    }

    @Test(.enabled(if: Tier.fast), arguments: configs)
    func aConfigMeetsItsExpectationAtASmallBound(_ name: String) async throws {
        switch try Self.load(name) {
        case .run(let s):
            if name.hasPrefix("races/") { #expect(s.expect != nil, "\(name) has no expect") }
            if Self.work(s) <= Self.fastRunWork { await Self.checkRun(s, name) }
        case .sweep(let plan):
            #expect(!plan.points.isEmpty)
            if let first = plan.points.first, Self.work(first) <= Self.fastRunWork { await Self.checkRun(first, "\(name) point 0") }
        case .explore(let s):
            if name.hasPrefix("races/") { #expect(s.expect != nil, "\(name) has no expect") }
            let opts = Self.smallOptions(s)
            let r = try await Explorer.explore(s, options: opts)
            if opts == (s.explore ?? ExploreOptions()) {
                #expect(ExploreReport.matches(r, s.expect), "\(name): \(r.counterexample?.invariant ?? "no violation"), outcomes \(r.outcomes.map { Observation.render($0.observed) })")
                return
            }
            #expect(r.cache?.failure == nil, "\(name): \(r.cache?.failure ?? "")")
            #expect(r.tooLong == nil, "\(name): a schedule ran past maxSteps: \(r.tooLong ?? "")")
            let e = s.expect ?? ExpectedOutcome(violation: "none")
            if let v = e.violation {
                let found = r.violations.map(\.invariant)
                #expect(v == "none" ? found.isEmpty : found.allSatisfy { $0 == v }, "\(name): expected \(v), found \(found)")
            }
            if let want = e.outcomes {
                let listed = Set(want.map(Observation.render))
                let seen = r.outcomes.map { Observation.render($0.observed) }
                #expect(seen.allSatisfy(listed.contains), "\(name): outcome \(seen.filter { !listed.contains($0) }) is not listed")
            }
        }
    }

    @Test(.enabled(if: Tier.full, "full tier: every config at its own bound and size"), arguments: configs)
    func aConfigMeetsItsExpectation(_ name: String) async throws {
        switch try Self.load(name) {
        case .run(let s):
            if name.hasPrefix("races/") { #expect(s.expect != nil, "\(name) has no expect") }
            await Self.checkRun(s, name)
        case .sweep(let plan):
            #expect(!plan.points.isEmpty)
            for (i, p) in plan.points.enumerated() { await Self.checkRun(p, "\(name) point \(i)") }
        case .explore(let s):
            if name.hasPrefix("races/") { #expect(s.expect != nil, "\(name) has no expect") }
            let r = try await Explorer.explore(s, options: Self.fullOptions(name, s))
            #expect(ExploreReport.matches(r, s.expect), "\(name): \(r.counterexample?.invariant ?? "no violation"), outcomes \(r.outcomes.map { Observation.render($0.observed) })")
        }
    }
}
