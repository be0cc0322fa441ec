import FolioSimModel
import FolioSimExplore

/// How a mapping is backed, as a config names it.
package enum MapSpec: Equatable, Sendable {
    case privateAnon
    case privateFile(name: String, kind: FileKind, offset: UInt64)
    case sharedFile(name: String, kind: FileKind, offset: UInt64)
}

extension Scenario {
    /// A fresh simulated machine of the config's memory, swap, rules and THP settings.
    func newWorld() -> World {
        World(memoryBytes: memoryBytes, swapBytes: swapBytes, semantics: semantics, thp: thp)
    }
}

extension TouchPattern {
    /// The addresses a `touch` step of `size` bytes at `addr` accesses, generated one at a
    /// time (a 256 GiB range is never materialised): what FolioSim and kernel-diff's host
    /// helper both touch.
    package func addresses(_ addr: UInt64, _ size: UInt64, count: Int?) -> PageAddresses {
        PageAddresses(self, addr: addr, pages: size >> Geometry.pageShift, count: count)
    }
}

extension Scenario {
    /// Every process the steps name: a `proc`, or a fork's `child`.
    var processNames: Set<String> {
        var names: Set<String> = []
        for step in steps + threads.flatMap(\.steps) + after {
            if let p = step.op.process { names.insert(p) }
            if let fork = step.op.as(ForkOp.self) { names.insert(fork.child) }
        }
        return names
    }
}

func protString(_ p: Prot) -> String {
    if p.isEmpty { return "none" }
    return (p.contains(.read) ? "r" : "") + (p.contains(.write) ? "w" : "") + (p.contains(.exec) ? "x" : "")
}

/// One step of a scenario: an op, run `repeatCount` times with its address (and `to`)
/// advanced by `stride` each time (`repeat` / `stride` in a config).
package struct Step: Equatable, Sendable {
    package var op: Op
    package var repeatCount: Int
    package var stride: UInt64
    package init(_ op: Op, repeatCount: Int = 1, stride: UInt64 = 0) {
        self.op = op; self.repeatCount = repeatCount; self.stride = stride
    }
    /// The op of repetition `k`.
    package func op(_ k: Int) -> Op { k == 0 ? op : op.shifted(by: UInt64(k) * stride) }

    /// The end of the highest range any repetition touches (nil for ops without an address).
    var highestAddress: UInt64? {
        guard let (base, size, to) = op.body.range.map({ ($0.addr, $0.size, $0.to) }) else { return nil }
        let shift = stride.multipliedReportingOverflow(by: UInt64(repeatCount - 1))
        guard !shift.overflow else { return UInt64.max }
        let high = max(base, to ?? 0).addingReportingOverflow(shift.partialValue)
        let end = high.partialValue.addingReportingOverflow(size)
        return high.overflow || end.overflow ? UInt64.max : end.partialValue
    }
}


/// When the checker runs.
package enum CheckMode: String, Equatable, Sendable, CaseIterable {
    /// After every step (the default).
    case step
    /// Once, after the last step.
    case end
    case off
}

/// A validated experiment config.
public struct Scenario: Equatable, Sendable {
    /// The config's `name` (default: the file name).
    public var name: String
    package var semanticsName: String
    package var semantics: Semantics
    package var memoryBytes: UInt64
    package var swapBytes: UInt64
    package var thp: THPSettings
    package var check: CheckMode
    package var steps: [Step]
    /// Concurrent threads, started after `steps`, in the order written.
    public var threads: [ThreadSpec]
    /// Steps run once every thread is done.
    package var after: [Step]
    /// The config's `explore` section.
    public var explore: ExploreOptions?
    /// The config's `expect` section.
    public var expect: ExpectedOutcome?

    package init(name: String, semanticsName: String = "v6.18", semantics: Semantics = .v6_18, memoryBytes: UInt64,
                swapBytes: UInt64 = 0, thp: THPSettings = THPSettings(), check: CheckMode = .step, steps: [Step],
                threads: [ThreadSpec] = [], after: [Step] = [], explore: ExploreOptions? = nil,
                expect: ExpectedOutcome? = nil) {
        self.name = name; self.semanticsName = semanticsName; self.semantics = semantics
        self.memoryBytes = memoryBytes; self.swapBytes = swapBytes; self.thp = thp; self.check = check; self.steps = steps
        self.threads = threads; self.after = after; self.explore = explore; self.expect = expect
    }
}

/// One concurrent thread of a config's `threads` section: a name (used in schedules and
/// traces) and the steps it runs in order.
public struct ThreadSpec: Equatable, Sendable {
    /// The thread's name, as schedules and traces write it.
    public var name: String
    package var steps: [Step]
    package init(name: String, steps: [Step]) { self.name = name; self.steps = steps }
}

/// What a config expects of exploration: no violation or the named one, and (a litmus test,
/// herd7's `exists`/`forall`) exactly these outcomes.
public struct ExpectedOutcome: Equatable, Sendable {
    /// "none" or an invariant name; nil when only outcomes are expected.
    package var violation: String?
    /// Every outcome the schedules may end with, and must each end with at least once.
    package var outcomes: [[Observation]]?
    package init(violation: String? = "none", outcomes: [[Observation]]? = nil) {
        self.violation = violation; self.outcomes = outcomes
    }
    package static let none = ExpectedOutcome()
    package static func violation(_ name: String) -> ExpectedOutcome { ExpectedOutcome(violation: name) }
}

