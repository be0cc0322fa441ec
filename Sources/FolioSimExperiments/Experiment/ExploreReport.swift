import FolioSimModel
import FolioSimExplore

/// Reports of `foliosim explore` and `foliosim replay`: a human summary and JSON. Neither
/// touches the world; the JSON is byte-identical for the same config and options.
public enum ExploreReport {
    /// Whether the outcome is what the config's `expect` asks (no `expect`: no violation):
    /// the named violation (or none), and exactly the listed outcomes (after an exhaustive
    /// search; otherwise only listed ones).
    public static func matches(_ r: ExploreResult, _ expect: ExpectedOutcome?) -> Bool {
        let e = expect ?? .none
        if r.cache?.failure != nil { return false }
        if let v = e.violation {
            if v == "none" {
                if r.counterexample != nil || r.tooLong != nil { return false }
            } else if !r.violations.contains(where: { $0.invariant == v }) {
                return false
            }
        }
        if let want = e.outcomes {
            // Every outcome seen must be listed; every listed one must be seen only when the
            // search was exhaustive (a scripted, random or stopped search sees some).
            let listed = Set(want.map(Observation.render)), seen = Set(r.outcomes.map { Observation.render($0.observed) })
            return r.exhaustive ? listed == seen : seen.isSubset(of: listed)
        }
        return true
    }

    /// What `expect` asks, in words.
    static func expectation(_ e: ExpectedOutcome?) -> String {
        let e = e ?? .none
        var parts: [String] = []
        if let v = e.violation { parts.append(v == "none" ? "no violation" : "violation of \(v)") }
        if let o = e.outcomes { parts.append("outcomes \(o.map(Observation.render).sorted().joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }

    /// Whether a named invariant is checked after every step or only at rest.
    static func kind(_ invariant: String) -> String {
        guard let inv = Invariant(rawValue: invariant) else { return "config expectation" }
        return inv.holdsAtEveryStep ? "holds at every step" : "holds at rest"
    }

    package static func strategyName(_ s: ExploreStrategy, cache: StateCacheMode? = nil) -> String {
        switch s {
        case .scripted(let text): "scripted \"\(text)\""
        case .dfs(let b, let red):
            "dfs, preemption bound \(b.map(String.init) ?? "none")"
                + (!red ? ", no reduction" : cache.map { ", state cache (\($0.rawValue))" } ?? (b == nil ? ", DPOR with sleep sets" : ", bounded POR (BPOR)"))
        case .random(let seed, let count): "random, seed \(seed), \(count) schedules"
        case .pct(let seed, let depth, let count): "pct, seed \(seed), depth \(depth), \(count) schedules"
        }
    }

    /// The report; `seconds` nil for a merge of shards (each shard timed its own part).
    public static func text(_ r: ExploreResult, _ s: Scenario, _ opts: ExploreOptions, seconds: Double?) -> String {
        var out = "\(oneLine(s.name)): \(s.threads.count) threads (\(s.threads.map(\.name).joined(separator: ", "))), semantics \(s.semanticsName)\n"
        out += "strategy: \(strategyName(opts.strategy, cache: opts.effectiveStateCache))\(r.split ? ", split at the first step" : "")\n"
        out += "schedules: \(r.schedules) explored to the end, \(r.runs) runs\(r.complete ? "" : " (stopped at maxSchedules)")"
        if r.pruned > 0 { out += ", \(r.pruned) cut short by the reduction" }
        out += "\nscheduling points: \(r.points)\ndistinct end states: \(r.endStates)\n"
        if let n = r.distinctStates { out += "coverage: \(n) distinct states, \(r.endStates) distinct end states\n" }
        if let c = r.cache {
            out += "states: \(c.states) stored, \(c.matched) matched, \(c.transitions) transitions, max depth \(c.maxDepth), "
            out += "visited set \(String(format: "%.1f", Double(c.memoryBytes) / 1_048_576)) MiB (\(c.states > 0 ? c.memoryBytes / c.states : 0) bytes a state)\n"
            if let f = c.failure { out += "state cache: STOPPED: \(f)\n" }
        }
        if let seconds {
            out += "time: \(String(format: "%.3f", seconds)) s"
            if seconds > 0 { out += " (\(Int(Double(r.points) / seconds)) points/s"
                if let c = r.cache { out += ", \(Int(Double(c.states) / seconds)) states/s" }
                out += ")"
            }
            out += "\n"
        } else {
            out += "time: the shards' (merged)\n"
        }
        if !r.outcomes.isEmpty {
            out += "outcomes (what the after steps observed):\n"
            for o in r.outcomes {
                out += "  \(Observation.render(o.observed)): \(o.schedules) schedule\(o.schedules == 1 ? "" : "s"), e.g. \"\(o.schedule)\" (\(o.preemptions) preemption\(o.preemptions == 1 ? "" : "s"))\n"
            }
        }
        if let t = r.tooLong { out += "a schedule exceeded maxSteps (\(opts.maxSteps)): \(t)\n" }
        if r.violations.isEmpty {
            out += "result: no violation\n"
        }
        for (i, c) in r.violations.enumerated() {
            let label = r.violations.count > 1 ? "violation \(i + 1) of \(r.violations.count)" : "result: violation"
            out += "\(label) of \(c.invariant) (\(kind(c.invariant)), in \(c.function))\n  \(c.detail)\n"
            out += "schedule: \"\(c.schedule)\" (\(c.preemptions) preemption\(c.preemptions == 1 ? "" : "s"), \(c.steps) steps)\n"
            out += "trace:\n" + c.trace.map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        if !r.violations.isEmpty {
            out += "shrinking: \(r.shrinkSchedules) more schedules\(r.shrinkBudgetSpent ? " (the shrink budget of \(opts.shrinkBudget) ran out: a schedule with fewer preemptions may exist)" : "")\n"
        }
        let partial = s.expect?.outcomes != nil && !r.exhaustive ? " (outcomes checked for being listed only: the search was not exhaustive)" : ""
        out += "expected: \(expectation(s.expect)) — \(matches(r, s.expect) ? "as expected" : "NOT as expected")\(partial)\n"
        return out
    }

    static func counterexampleJSON(_ c: Counterexample) -> JSONValue {
        .object([
            ("invariant", .string(c.invariant)),
            ("function", .string(c.function)),
            ("detail", .string(c.detail)),
            ("schedule", .string(c.schedule)),
            ("preemptions", .int(c.preemptions)),
            ("steps", .int(c.steps)),
            ("trace", .array(c.trace.map { .string($0) })),
        ])
    }

    /// `explore --json`: the result, the counterexamples, the outcomes and the search's figures.
    public static func json(_ r: ExploreResult, _ s: Scenario) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("result", .string(r.counterexample == nil ? "ok" : "violation")),
            ("expected", .bool(matches(r, s.expect))),
            ("schedules", .int(r.schedules)),
            ("runs", .int(r.runs)),
            ("pruned", .int(r.pruned)),
            ("points", .int(r.points)),
            ("endStates", .int(r.endStates)),
            ("complete", .bool(r.complete)),
            ("exhaustive", .bool(r.exhaustive)),
            ("outcomes", .array(r.outcomes.map { o in
                .object([("observed", .array(o.observed.map(\.json))), ("schedules", .int(o.schedules)),
                         ("schedule", .string(o.schedule)), ("preemptions", .int(o.preemptions))])
            })),
        ]
        if let c = r.cache {
            members += [("states", .int(c.states)), ("matched", .int(c.matched)), ("transitions", .int(c.transitions)),
                        ("maxDepth", .int(c.maxDepth)), ("memoryBytes", .int(c.memoryBytes))]
            if let f = c.failure { members.append(("cacheFailure", .string(f))) }
        }
        if let n = r.distinctStates { members.append(("distinctStates", .int(n))) }
        if let t = r.tooLong { members.append(("tooLong", .string(t))) }
        if let c = r.counterexample { members.append(("violation", counterexampleJSON(c))) }
        if r.violations.count > 1 { members.append(("violations", .array(r.violations.map(counterexampleJSON)))) }
        if !r.violations.isEmpty {
            members.append(("shrinkSchedules", .int(r.shrinkSchedules)))
            members.append(("shrinkBudgetSpent", .bool(r.shrinkBudgetSpent)))
        }
        return .object(members)
    }

    /// `replay`: the trace, the schedule and the verdict.
    public static func replayText(_ r: ReplayResult) -> String {
        var out = r.trace.joined(separator: "\n") + "\n"
        out += "schedule: \"\(r.schedule)\" (\(r.preemptions) preemption\(r.preemptions == 1 ? "" : "s"), \(r.steps) steps)\n"
        if r.tooLong { out += "stopped: the schedule exceeded maxSteps\n" }
        if !r.observed.isEmpty { out += "observed: \(Observation.render(r.observed))\n" }
        out += r.violation.map { "result: violation of \($0.invariant) (\(kind($0.invariant)))\n  \($0)\n" } ?? "result: no violation\n"
        return out
    }

    /// `replay --json`.
    public static func replayJSON(_ r: ReplayResult) -> JSONValue {
        var m: [(key: String, value: JSONValue)] = [
            ("result", .string(r.violation == nil ? "ok" : "violation")),
            ("schedule", .string(r.schedule)), ("steps", .int(r.steps)), ("preemptions", .int(r.preemptions)),
        ]
        if let v = r.violation { m.append(("invariant", .string(v.invariant))); m.append(("detail", .string(v.description))) }
        m.append(("observed", .array(r.observed.map(\.json))))
        m.append(("trace", .array(r.trace.map { .string($0) })))
        return .object(m)
    }
}
