import FolioSimModel

/// How `foliosim explore` chooses interleavings.
public enum ExploreStrategy: Equatable, Sendable {
    /// One interleaving, written as a schedule string (see `Schedule`).
    case scripted(String)
    /// Depth-first over every interleaving with at most `preemptionBound` preemptions (nil =
    /// unbounded); `reduction` prunes interleavings that only reorder independent steps.
    case dfs(preemptionBound: Int?, reduction: Bool)
    /// `count` schedules, each step's thread chosen uniformly by a seeded generator.
    case random(seed: UInt64, count: Int)
    /// Probabilistic concurrency testing: `count` runs with random thread priorities and
    /// `depth - 1` priority change points.
    case pct(seed: UInt64, depth: Int, count: Int)
}

/// The `explore` section of a config.
public struct ExploreOptions: Equatable, Sendable {
    /// How interleavings are chosen.
    public var strategy: ExploreStrategy
    /// A schedule longer than this many steps stops with an error (no fair kernel schedule
    /// of a config's few operations comes near it).
    package var maxSteps: Int
    /// Exploration stops after this many runs (the result says it was cut short).
    package var maxSchedules: Int
    /// Keep exploring after a violation and report every distinct one (`--all`).
    package var all: Bool
    /// Invariants not to report (`--ignore NAME`).
    package var ignore: [String]
    /// Schedules the shrinker may run in all (`--shrink-budget N`).
    package var shrinkBudget: Int
    /// How a reduced DFS avoids repeated work: with a cache of the states explored (`hash`,
    /// or `exact` for tests), or stateless partial-order reduction alone (`off`: DPOR with
    /// sleep sets, or BPOR under a bound) (`--state-cache hash|exact|off`). Nil: `hash` for
    /// an unbounded search, `off` under a bound (`effectiveStateCache`).
    package var stateCache: StateCacheMode?
    /// `--jobs N`: split a dfs at its root and search the subtrees N at a time (nil: one
    /// search). Any N prints the same (`Explorer.exploreSplit`).
    public var jobs: Int?
    /// The cache the search uses (nil: none).
    package var effectiveStateCache: StateCacheMode? {
        switch stateCache {
        case .off?: return nil
        case let m?: return m
        case nil:
            if case .dfs(nil, true) = strategy { return .hash }
            return nil
        }
    }
    /// The defaults: a reduced dfs at preemption bound 2.
    public init(strategy: ExploreStrategy = .dfs(preemptionBound: 2, reduction: true), maxSteps: Int = 20_000,
                maxSchedules: Int = 1_000_000, all: Bool = false, ignore: [String] = [], shrinkBudget: Int = 50_000,
                stateCache: StateCacheMode? = nil) {
        self.strategy = strategy; self.maxSteps = maxSteps; self.maxSchedules = maxSchedules
        self.all = all; self.ignore = ignore; self.shrinkBudget = shrinkBudget; self.stateCache = stateCache
    }
}

/// Command-line overrides of a config's `explore` section (`foliosim explore --strategy …`).
public struct ExploreOverrides: Sendable {
    /// `--strategy dfs|random|pct|scripted`.
    public var strategy: String?
    /// `.some(nil)` is `--bound none` (unbounded).
    public var bound: Int??
    /// `--seed N` (random, pct).
    public var seed: UInt64?
    /// `--count N`: runs of random or pct.
    public var count: Int?
    /// `--depth D` (pct).
    public var depth: Int?
    /// `--no-reduction`: a plain dfs.
    public var noReduction = false
    /// `--schedule S`: replay one interleaving.
    public var schedule: String?
    /// `--all`: every distinct violation.
    public var all = false
    /// `--ignore NAME`, repeatable.
    public var ignore: [String] = []
    /// `--shrink-budget N`.
    public var shrinkBudget: Int?
    /// `--state-cache`.
    public var stateCache: StateCacheMode?
    /// `--jobs N`.
    public var jobs: Int?
    /// No overrides.
    public init() {}
}

/// The state cache's modes (`StateCache`): 64-bit hashes only, full states as well, or no
/// cache (stateless reduction).
public enum StateCacheMode: String, Sendable, CaseIterable {
    case hash, exact, off
}

extension ExploreOptions {
    /// These options with `o` applied: a new strategy takes its parameters from the options
    /// given, else from the config's (when it names the same strategy), else the defaults.
    /// Without `--strategy`, an option of one strategy only (`--schedule`, `--depth`,
    /// `--bound`, `--no-reduction`) selects that strategy.
    public func applying(_ o: ExploreOverrides, threads: [String]) throws(ScheduleError) -> ExploreOptions {
        var seed: UInt64 = 1, count = 1000, depth = 3, bound: Int? = 2, reduction = true, schedule = ""
        let current: String
        switch strategy {
        case .scripted(let s): current = "scripted"; schedule = s
        case .dfs(let b, let r): current = "dfs"; bound = b; reduction = r
        case .random(let s, let c): current = "random"; seed = s; count = c
        case .pct(let s, let d, let c): current = "pct"; seed = s; depth = d; count = c
        }
        var out = self
        // An option that belongs to one strategy only selects it: `--schedule` replays.
        let implied: String? = o.schedule != nil ? "scripted" : o.depth != nil ? "pct"
            : (o.bound != nil || o.noReduction) ? "dfs" : nil
        let final = o.strategy ?? implied ?? current
        let given: [(String, Bool, Set<String>)] = [
            ("--bound", o.bound != nil, ["dfs"]), ("--no-reduction", o.noReduction, ["dfs"]),
            ("--seed", o.seed != nil, ["random", "pct"]), ("--count", o.count != nil, ["random", "pct"]),
            ("--depth", o.depth != nil, ["pct"]), ("--schedule", o.schedule != nil, ["scripted"]),
        ]
        for (name, set, strategies) in given where set && !strategies.contains(final) {
            throw ScheduleError(message: "\(name) does not apply to the \(final) strategy (it applies to \(strategies.sorted().joined(separator: " and ")))")
        }
        if o.all { out.all = true }
        out.ignore += o.ignore
        if let b = o.shrinkBudget { out.shrinkBudget = b }
        if let c = o.stateCache { out.stateCache = c }
        if let j = o.jobs {
            guard final == "dfs" else { throw ScheduleError(message: "--jobs applies to the dfs strategy") }
            out.jobs = j
        }
        if o.stateCache != nil, final != "dfs" || o.noReduction {
            throw ScheduleError(message: "--state-cache applies to the dfs strategy with reduction (without --no-reduction)")
        }
        switch final {
        case "dfs": out.strategy = .dfs(preemptionBound: o.bound ?? bound, reduction: o.noReduction ? false : reduction)
        case "random": out.strategy = .random(seed: o.seed ?? seed, count: o.count ?? count)
        case "pct": out.strategy = .pct(seed: o.seed ?? seed, depth: o.depth ?? depth, count: o.count ?? count)
        case "scripted":
            let text = o.schedule ?? schedule
            _ = try Schedule.parse(text, threads: threads)
            out.strategy = .scripted(text)
        case let other:
            throw ScheduleError(message: "--strategy expects dfs, random, pct or scripted, found \(JSONWriter.quote(other))")
        }
        return out
    }
}
