import FolioSimModel

/// The check behind the reduction's independence relation: two steps that the footprints
/// call independent (neither writes what the other touches) must commute. At a state reached
/// by a schedule prefix, thread `a`'s step then `b`'s, and `b`'s then `a`'s, must leave the
/// same model state, and each step must read the same values and stop at the same next point
/// in both orders. A difference means some access was not recorded; the failure names the
/// two steps and the objects that differ, marking those neither footprint recorded.
package enum CommutativityAudit {
    /// What one step did, as the audit compares it.
    struct StepRecord: Equatable {
        var footprint: Footprint
        var readDigest: UInt64
        var next: String
        var point: String
    }

    /// The result of one pair: nil when the two steps conflict (nothing to check) or cannot
    /// both run there, else the differences found (empty: they commute).
    package struct PairResult: Sendable {
        package var prefix: [Int]
        package var a: Int
        package var b: Int
        package var failures: [String]
    }

    /// Runs `prefix` then `first` then `second`; the two steps' records and the state after.
    static func runPair(_ snapshot: Snapshot, _ prefix: [Int], _ first: Int, _ second: Int, maxSteps: Int,
                        forgetting: UInt64?) async -> (StepRecord, StepRecord, [(key: UInt64, value: UInt64)])? {
        let order = prefix + [first, second]
        var records: [StepRecord] = []
        var state: [(key: UInt64, value: UInt64)] = []
        var points: [String] = []
        var ok = true
        let o = await Explorer.runOnce(snapshot, tracing: false, maxSteps: maxSteps, choose: { ex, en, d in
            ex.log.forgottenKind = forgetting
            guard d < order.count, en.contains(order[d]) else { ok = ok && d >= order.count; return nil }
            if d >= prefix.count { points.append(ex.pendingDescription(order[d])) }
            return order[d]
        }, observe: nil, inspect: { ex, d in
            guard d >= prefix.count, d < order.count else { return }
            let t = order[d]
            records.append(StepRecord(footprint: ex.log.footprint(), readDigest: ex.log.readDigest,
                                      next: ex.pendingDescription(t), point: points[d - prefix.count]))
            if d == order.count - 1 { state = ex.world.stateObjects() }
        })
        guard ok, records.count == 2, o.violation == nil else { return nil }
        return (records[0], records[1], state)
    }

    /// Audits one pair of threads at the state `prefix` reaches.
    package static func audit(_ program: any ExplorableProgram, prefix: [Int], a: Int, b: Int, maxSteps: Int = 20_000) async -> PairResult? {
        let snapshot = await Snapshot.make(program)
        return await audit(snapshot, prefix: prefix, a: a, b: b, maxSteps: maxSteps)
    }

    static func audit(_ snapshot: Snapshot, prefix: [Int], a: Int, b: Int, maxSteps: Int, forgetting: UInt64? = nil) async -> PairResult? {
        guard let (a1, b1, s1) = await runPair(snapshot, prefix, a, b, maxSteps: maxSteps, forgetting: forgetting) else { return nil }
        guard !a1.footprint.conflicts(with: b1.footprint) else { return nil }
        let names = snapshot.threadNames
        guard let (b2, a2, s2) = await runPair(snapshot, prefix, b, a, maxSteps: maxSteps, forgetting: forgetting) else {
            return PairResult(prefix: prefix, a: a, b: b, failures: ["\(names[b]) then \(names[a]) cannot run in that order, though the steps are independent"])
        }
        var failures: [String] = []
        let steps = "\(names[a]) at \(a1.point) and \(names[b]) at \(b1.point)"
        let recorded = Set(a1.footprint.entries.map { $0 >> 1 } + b1.footprint.entries.map { $0 >> 1 })
        let diff = World.differingObjects(s1, s2)
        if !diff.isEmpty {
            let objs = diff.map { k in "\(PointObject.from(key: k))\(recorded.contains(k) ? "" : " (not recorded)")" }
            failures.append("\(steps): the two orders leave different state in \(objs.joined(separator: ", "))")
        }
        for (name, x, y) in [(names[a], a1, a2), (names[b], b1, b2)] {
            if x.readDigest != y.readDigest { failures.append("\(steps): \(name)'s step read other values in the other order") }
            if x.next != y.next { failures.append("\(steps): \(name)'s step stops at \(x.next) in one order, \(y.next) in the other") }
        }
        return PairResult(prefix: prefix, a: a, b: b, failures: failures)
    }

    /// Samples states of `scenario` (the states along `runs` seeded random schedules, every
    /// `every`-th step) and audits every pair of threads that can run there. Returns the pairs
    /// checked (independent ones) and the failures.
    /// `forgetting` (the audit's own test): a kind of object whose accesses go unrecorded.
    package static func sample(_ program: any ExplorableProgram, seed: UInt64, runs: Int, every: Int, maxPairs: Int,
                              forgetting: PointObject? = nil) async -> (checked: Int, failures: [String]) {
        let snapshot = await Snapshot.make(program)
        guard snapshot.setupViolation == nil else { return (0, []) }
        var rng = SplitMix64(seed: seed)
        var checked = 0
        var failures: [String] = []
        var pairs = 0
        for _ in 0..<runs {
            var states: [([Int], ThreadSet)] = []
            let o = await Explorer.runOnce(snapshot, tracing: false, maxSteps: 2_000) { ex, en, d in
                if d % every == 0 { states.append((ex.choices, en)) }
                return en.member(at: Int(rng.next() % UInt64(en.count)))
            }
            _ = o
            for (prefix, en) in states {
                for a in en {
                    for b in en where b > a {
                        guard pairs < maxPairs else { return (checked, failures) }
                        pairs += 1
                        if let r = await audit(snapshot, prefix: prefix, a: a, b: b, maxSteps: 2_000, forgetting: forgetting.map { $0.key >> 56 }) {
                            checked += 1
                            failures += r.failures
                        }
                    }
                }
            }
        }
        return (checked, failures)
    }
}
