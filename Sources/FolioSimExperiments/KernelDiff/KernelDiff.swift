import FolioSimModel
import FolioSimExplore

#if canImport(Glibc)
/// `foliosim kernel-diff`: a config's `steps` run as real system calls on the host kernel
/// (`HostPlan`, `HostRun`) and in FolioSim (`SimRun`), and every count side by side.
///
/// Every count must agree exactly. The faults of a `fork` step are not compared: fork(2)
/// itself takes none, and what the forking helper's count shows is its own stack taking COW
/// faults between fork and the second sample, 0 to 2 depending on the build and on which
/// process the scheduler runs first. The host figures are taken so
/// that exactness is fair: faults net of the helper's own (an empty step), the helpers
/// pinned to one CPU (per-CPU page batches would copy stray pages), RSS and copies from
/// PFNs rather than from the process's whole RSS, and runs thrown away when khugepaged
/// collapsed anything or another process moved the system-wide mTHP counters.
public enum KernelDiff {
    /// How kernel-diff runs: the good host runs to take and the executable of the helpers.
    public struct Options: Sendable {
        /// Good host runs to take; the table shows their spread.
        package var repeats = 1
        /// The `foliosim` executable the helpers run (`__kernel-diff-helper`).
        package var helper: String
        /// Seconds to wait, in 2 s steps that use no try, for the host's mTHP counters to
        /// stand still when another process moves them before a run (0: take the try).
        package var quietWait = 0
        /// One good host run by default.
        public init(repeats: Int = 1, helper: String) {
            self.repeats = repeats
            self.helper = helper
        }
    }

    /// Runs the config's steps on the host kernel and in FolioSim and compares every count; an error when the host cannot be used (not root, no THP sysfs) or a host step fails.
    public static func run(_ scenario: Scenario, options: Options) async throws(KernelDiffError) -> KernelDiffResult {
        try HostSysfs.checkAccess()
        let plan = HostPlan(scenario, hostHasSwap: HostRun.hasSwap())
        guard plan.steps.contains(where: { $0.command != nil }) else {
            throw KernelDiffError(message: "\(scenario.name): no step of `steps` runs on the host (kernel-diff runs `steps`, not `threads`)")
        }
        let sim = await SimRun.measure(scenario, plan)
        let sysfs = HostSysfs()
        try sysfs.apply(scenario.thp)
        let runs: [[StepMeasure?]]
        var discarded: [String] = []
        do {
            runs = try hostRuns(plan, options, &discarded)
        } catch {
            sysfs.restore()
            throw error
        }
        let failed = sysfs.restore()
        if !failed.isEmpty { throw KernelDiffError(message: "could not restore " + failed.joined(separator: ", ")) }
        let host = HostRun.release()
        var result = KernelDiffResult(name: scenario.name, host: host.text, rules: scenario.semanticsName,
                                      runs: runs.count, discarded: discarded)
        result.rows = rows(plan, sim, runs)
        result.skipped = plan.steps.compactMap { s in s.skipped.map { SkippedStep(step: s.index + 1, summary: s.summary, reason: $0) } }
        if let n = host.number, n != scenario.semantics.release {
            result.note = "the config's rules (\(scenario.semanticsName)) are not the host kernel's (\(host.text)): counts differ where those kernels differ (KERNEL.md §8)"
                + (scenario.semantics.release < 608 ? ", e.g. no mTHP before 6.8" : "")
        }
        return result
    }

    /// `options.repeats` undisturbed host runs (at most 3N + 2 tries); why others were dropped.
    static func hostRuns(_ plan: HostPlan, _ options: Options, _ discarded: inout [String]) throws(KernelDiffError) -> [[StepMeasure?]] {
        var good: [[StepMeasure?]] = []
        var tries = 0, waited = 0
        let cpu = HostRun.helperCPU()
        while good.count < options.repeats && tries < 3 * options.repeats + 2 {
            tries += 1
            let collapsed = HostRun.collapsed()
            if HostRun.othersActive() {
                if waited < options.quietWait {
                    tries -= 1
                    waited += 2
                    HostRun.pause(seconds: 2)
                    continue
                }
                discarded.append("another process moved the mTHP counters before the run")
                continue
            }
            let m = try HostRun(plan: plan, helper: options.helper, cpu: cpu).run()
            if HostRun.collapsed() != collapsed { discarded.append("khugepaged collapsed pages during the run"); continue }
            if HostRun.othersActive() { discarded.append("another process moved the mTHP counters after the run"); continue }
            good.append(m)
        }
        if good.isEmpty { throw KernelDiffError(message: "every host run was disturbed: " + (discarded.last ?? "")) }
        return good
    }

    /// One row per count of every step the host ran.
    static func rows(_ plan: HostPlan, _ sim: [StepMeasure?], _ runs: [[StepMeasure?]]) -> [DiffRow] {
        var out: [DiffRow] = []
        for (i, step) in plan.steps.enumerated() {
            guard let cmd = step.command, let s = sim[i] else { continue }
            let k = runs.compactMap { $0[i] }
            func row(_ process: String, _ metric: String, _ kv: [Int?], _ fv: Int?) {
                let ks = kv.compactMap { $0 }
                guard let lo = ks.min(), let hi = ks.max(), let fv else { return }
                out.append(DiffRow(step: step.index + 1, repetition: step.repetition, summary: step.summary, process: process, metric: metric,
                                   kernelMin: lo, kernelMax: hi, foliosim: fv, differs: fv < lo || fv > hi))
            }
            let kernelFailed = k.contains { $0.error != nil }
            if kernelFailed || s.error != nil {
                let kt = k.first { $0.error != nil }?.error
                out.append(DiffRow(step: step.index + 1, repetition: step.repetition, summary: step.summary, process: step.process, metric: "result",
                                   kernelText: kt.map { "error: " + $0 } ?? "ok", foliosimText: s.error.map { "error: " + $0 } ?? "ok",
                                   differs: kernelFailed != (s.error != nil)))
            }
            if let sd = s.data, let kd = k.first(where: { $0.data != nil })?.data {
                let text = { (d: [UInt32]) in d.isEmpty ? "empty" : d.map(String.init).joined(separator: ",") }
                out.append(DiffRow(step: step.index + 1, repetition: step.repetition, summary: step.summary, process: step.process,
                                   metric: "data read", kernelText: text(kd), foliosimText: text(sd), differs: kd != sd))
            }
            if case .fork = cmd {} else { row(step.process, "faults", k.map(\.faults), s.faults) }
            if case .exit = cmd {} else { row(step.process, "rss anon pages", k.map(\.rss), s.rss) }
            row(step.process, "pages copied", k.map(\.copied), s.copied)
            row(step.process, "pages moved", k.map(\.moved), s.moved)
            for o in THPSettings.anonOrders {
                for (n, name) in MTHPCounters.names.enumerated() {
                    // A helper names only the orders whose counters moved.
                    let kv = k.map { $0.error == nil ? $0.mthp[o]?.values[n] ?? 0 : nil }
                    let fv = s.mthp[o]?.values[n] ?? 0
                    if fv == 0 && kv.allSatisfy({ ($0 ?? 0) == 0 }) { continue }
                    row("system", "\(FolioOrder(o).sizeName) \(name)", kv, fv)
                }
            }
        }
        return out
    }
}
#endif

/// One count of one step: the host's (the spread over the good runs) and FolioSim's.
package struct DiffRow: Equatable, Sendable {
    /// The config step (from 1) and its repetition (from 0).
    package var step: Int
    package var repetition = 0
    package var summary: String
    package var process: String
    package var metric: String
    package var kernelMin = 0
    package var kernelMax = 0
    package var foliosim = 0
    /// For `result` rows: `ok` or the error.
    package var kernelText: String?
    package var foliosimText: String?
    package var differs: Bool

    /// `3`, or `3.2` for the second repetition of a `repeat` step.
    package var stepName: String { repetition == 0 ? "\(step)" : "\(step).\(repetition + 1)" }
    package var kernel: String { kernelText ?? (kernelMin == kernelMax ? "\(kernelMin)" : "\(kernelMin)..\(kernelMax)") }
    package var simulated: String { foliosimText ?? "\(foliosim)" }
}

package struct SkippedStep: Equatable, Sendable {
    package var step: Int
    package var summary: String
    package var reason: String
}

/// What kernel-diff found.
public struct KernelDiffResult: Sendable {
    package var name: String
    /// `uname -r` of the host.
    package var host: String
    /// The rules FolioSim ran with.
    package var rules: String
    /// Good host runs, and why others were dropped.
    package var runs: Int
    package var discarded: [String]
    package var rows: [DiffRow] = []
    package var skipped: [SkippedStep] = []
    /// Set when the config's rules are not the host kernel's.
    package var note: String?

    /// Every count agrees.
    public var agrees: Bool { !rows.contains { $0.differs } }

    /// The side-by-side table and the verdict.
    public var text: String {
        var out = "kernel-diff: \(oneLine(name)) on Linux \(host), FolioSim rules \(rules); \(runs) host run\(runs == 1 ? "" : "s")"
        out += discarded.isEmpty ? "\n" : " (\(discarded.count) discarded: \(discarded.joined(separator: "; ")))\n"
        if let note { out += "note: \(note)\n" }
        var table: [[String]] = [["step", "op", "process", "metric", "kernel", "FolioSim", "differs"]]
        for r in rows { table.append([r.stepName, r.summary, r.process, r.metric, r.kernel, r.simulated, r.differs ? "DIFFERS" : ""]) }
        let widths = (0..<7).map { c in table.map { $0[c].count }.max()! }
        for line in table {
            out += zip(line, widths).map { $0.padded(to: $1) }.joined(separator: "  ").droppingTrailingSpaces() + "\n"
        }
        if !skipped.isEmpty {
            out += "skipped (not run on the host):\n"
            for s in skipped { out += "  step \(s.step) \(s.summary): \(s.reason)\n" }
        }
        let differing = rows.filter(\.differs).count
        out += differing == 0 ? "verdict: all \(rows.count) counts agree\n" : "verdict: \(differing) of \(rows.count) counts differ\n"
        return out
    }

    /// `kernel-diff --json`.
    public var json: JSONValue {
        .object([
            ("name", .string(name)), ("host", .string(host)), ("rules", .string(rules)),
            ("runs", .int(runs)), ("discarded", .array(discarded.map { .string($0) })),
            ("note", note.map { .string($0) } ?? .null),
            ("rows", .array(rows.map { r in
                .object([("step", .int(r.step)), ("repetition", .int(r.repetition)), ("op", .string(r.summary)), ("process", .string(r.process)),
                         ("metric", .string(r.metric)),
                         ("kernel", r.kernelText == nil && r.kernelMin == r.kernelMax ? .int(r.kernelMin) : .string(r.kernel)),
                         ("foliosim", r.foliosimText == nil ? .int(r.foliosim) : .string(r.simulated)),
                         ("differs", .bool(r.differs))])
            })),
            ("skipped", .array(skipped.map { .object([("step", .int($0.step)), ("op", .string($0.summary)), ("reason", .string($0.reason))]) })),
            ("agrees", .bool(agrees)),
        ])
    }
}

private extension String {
    func padded(to n: Int) -> String {
        count >= n ? self : self + String(repeating: " ", count: n - count)
    }
    func droppingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
