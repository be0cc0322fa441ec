/// Reports of `foliosim explore` and `foliosim replay`: a human summary and JSON. Neither
/// touches the world; the JSON is byte-identical for the same config and options.
public enum ExploreReport {
    /// Whether the outcome is what the config's `expect` asks (no `expect`: no violation).
    public static func matches(_ r: ExploreResult, _ expect: ExpectedOutcome?) -> Bool {
        switch expect ?? ExpectedOutcome.none {
        case .none: r.counterexample == nil && r.tooLong == nil
        case .violation(let name): r.counterexample?.invariant == name
        }
    }

    /// Whether a named invariant is checked after every step or only at rest.
    static func kind(_ invariant: String) -> String {
        guard let inv = Invariant(rawValue: invariant) else { return "config expectation" }
        return inv.holdsAtEveryStep ? "holds at every step" : "holds at rest"
    }

    public static func strategyName(_ s: ExploreStrategy) -> String {
        switch s {
        case .scripted(let text): "scripted \"\(text)\""
        case .dfs(let b, let red): "dfs, preemption bound \(b.map(String.init) ?? "none")\(red ? ", sleep-set reduction" : "")"
        case .random(let seed, let count): "random, seed \(seed), \(count) schedules"
        case .pct(let seed, let depth, let count): "pct, seed \(seed), depth \(depth), \(count) schedules"
        }
    }

    public static func text(_ r: ExploreResult, _ s: Scenario, _ opts: ExploreOptions, seconds: Double) -> String {
        var out = "\(s.name): \(s.threads.count) threads (\(s.threads.map(\.name).joined(separator: ", "))), semantics \(s.semanticsName)\n"
        out += "strategy: \(strategyName(opts.strategy))\n"
        out += "schedules: \(r.schedules) explored to the end, \(r.runs) runs\(r.complete ? "" : " (stopped at maxSchedules)")"
        if r.pruned > 0 { out += ", \(r.pruned) cut short by the reduction or the bound" }
        out += "\nscheduling points: \(r.points)\ndistinct end states: \(r.endStates)\n"
        out += "time: \(String(format: "%.3f", seconds)) s"
        if seconds > 0 { out += " (\(Int(Double(r.points) / seconds)) points/s)" }
        out += "\n"
        if let t = r.tooLong { out += "a schedule exceeded maxSteps (\(opts.maxSteps)): \(t)\n" }
        if let c = r.counterexample {
            out += "result: violation of \(c.invariant) (\(kind(c.invariant)))\n  \(c.detail)\n"
            out += "schedule: \"\(c.schedule)\" (\(c.preemptions) preemption\(c.preemptions == 1 ? "" : "s"), \(c.steps) steps; shrunk with \(r.shrinkSchedules) more schedules)\n"
            out += "trace:\n" + c.trace.map { "  " + $0 }.joined(separator: "\n") + "\n"
        } else {
            out += "result: no violation\n"
        }
        let exp = s.expect.map { e -> String in if case .violation(let n) = e { return n } else { return "none" } } ?? "none"
        out += "expected: \(exp) — \(matches(r, s.expect) ? "as expected" : "NOT as expected")\n"
        return out
    }

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
        ]
        if let t = r.tooLong { members.append(("tooLong", .string(t))) }
        if let c = r.counterexample {
            members.append(("violation", .object([
                ("invariant", .string(c.invariant)),
                ("detail", .string(c.detail)),
                ("schedule", .string(c.schedule)),
                ("preemptions", .int(c.preemptions)),
                ("steps", .int(c.steps)),
                ("trace", .array(c.trace.map { .string($0) })),
            ])))
        }
        return .object(members)
    }

    public static func replayText(_ r: ReplayResult) -> String {
        var out = r.trace.joined(separator: "\n") + "\n"
        out += "schedule: \"\(r.schedule)\" (\(r.preemptions) preemption\(r.preemptions == 1 ? "" : "s"), \(r.steps) steps)\n"
        if r.tooLong { out += "stopped: the schedule exceeded maxSteps\n" }
        out += r.violation.map { "result: violation of \($0.invariant) (\(kind($0.invariant)))\n  \($0)\n" } ?? "result: no violation\n"
        return out
    }

    public static func replayJSON(_ r: ReplayResult) -> JSONValue {
        var m: [(key: String, value: JSONValue)] = [
            ("result", .string(r.violation == nil ? "ok" : "violation")),
            ("schedule", .string(r.schedule)), ("steps", .int(r.steps)), ("preemptions", .int(r.preemptions)),
        ]
        if let v = r.violation { m.append(("invariant", .string(v.invariant))); m.append(("detail", .string(v.description))) }
        m.append(("trace", .array(r.trace.map { .string($0) })))
        return .object(m)
    }
}
