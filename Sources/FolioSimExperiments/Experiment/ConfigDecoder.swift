import FolioSimModel
import FolioSimExplore

import Foundation

/// Config decoding: JSON5 text → `Scenario`, with one-line errors that name the file, the
/// field path and what was expected. Unknown fields and ops are errors; so is a step that
/// uses a process that does not exist (yet, or any more).
extension Scenario {
    /// `semantics`: a preset name (`--semantics`) that replaces the config's preset; the
    /// config's own switches and injections still apply on top of it.
    public static func load(path: String, semantics: String? = nil) throws(ConfigError) -> Scenario {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, path: "", message: "cannot read the file (\(FileManager.default.fileExists(atPath: path) ? "not UTF-8 text or unreadable" : "no such file"))")
        }
        return try decode(text: text, file: path, semantics: semantics)
    }

    package static func decode(text: String, file: String, semantics override: String? = nil) throws(ConfigError) -> Scenario {
        try decode(root: parse(text: text, file: file), file: file, semantics: override)
    }

    /// The JSON5 value of a config's text.
    static func parse(text: String, file: String) throws(ConfigError) -> JSONValue {
        do {
            return try JSON5Parser.parse(text)
        } catch {
            throw ConfigError(file: "\(file):\(error.line):\(error.column)", path: "", message: "JSON5 syntax error: \(error.message)")
        }
    }

    /// Decodes a parsed config. A `sweep` section is an error here: `Sweep` takes it out and
    /// decodes each point of the grid.
    static func decode(root: JSONValue, file: String, semantics override: String? = nil) throws(ConfigError) -> Scenario {
        var f = try Fields(root, file: file, path: "")
        if f.raw("sweep") != nil { throw f.fail("sweep", "this config is a sweep: run it with `foliosim sweep FILE`") }
        let name = try f.string("name") ?? (file as NSString).lastPathComponent
        let (semName, semantics) = try decodeSemantics(&f, override: override)
        let (memory, swapBytes) = try decodeSizes(&f)
        var thp = THPSettings()
        if let t = f.raw("thp") { thp = try decodeTHP(t, file: file) }
        let check = try f.choice("check", CheckMode.self) ?? .step
        guard let stepsValue = f.raw("steps") else { throw f.fail("steps", "missing required field") }
        guard case .array(let items) = stepsValue else { throw f.fail("steps", "expected an array of steps, found \(stepsValue.kindName)") }
        let threadsValue = f.raw("threads")
        let afterValue = f.raw("after")
        let exploreValue = f.raw("explore")
        let expectValue = f.raw("expect")
        try f.finish()
        var procs = ProcessTracker()
        let steps = try decodeSteps(items, file: file, path: "steps", procs: &procs)
        var threads: [ThreadSpec] = []
        if let tv = threadsValue { threads = try decodeThreads(tv, root: f, procs: &procs) }
        var after: [Step] = []
        if let av = afterValue {
            guard case .array(let aitems) = av else { throw f.fail("after", "expected an array of steps, found \(av.kindName)") }
            after = try decodeSteps(aitems, file: file, path: "after", procs: &procs)
        }
        let explore = try exploreValue.map { v throws(ConfigError) in try decodeExplore(v, file: file, threads: threads.map(\.name)) }
        if explore != nil && threads.isEmpty { throw f.fail("explore", "exploring needs a \"threads\" section") }
        let expect = try expectValue.map { v throws(ConfigError) in try decodeExpect(v, file: file) }
        return Scenario(name: name, semanticsName: semName, semantics: semantics, memoryBytes: memory,
                        swapBytes: swapBytes, thp: thp, check: check, steps: steps, threads: threads, after: after,
                        explore: explore, expect: expect)
    }

    /// `memory` (default 1G) and `swap` (default none), in bytes.
    private static func decodeSizes(_ f: inout Fields) throws(ConfigError) -> (memory: UInt64, swap: UInt64) {
        let memory = try f.size("memory") ?? (1 << 30)
        guard memory >= 16 * Geometry.pageSize, memory % Geometry.pageSize == 0, memory <= 1 << 40 else {
            throw f.fail("memory", "expected a multiple of 4K between 64K and 1T, found \(memory) bytes")
        }
        let swapBytes = try f.size("swap") ?? 0
        guard swapBytes % Geometry.pageSize == 0, swapBytes <= 64 << 30 else {
            throw f.fail("swap", "expected a multiple of 4K up to 64G, found \(swapBytes) bytes")
        }
        return (memory, swapBytes)
    }

    /// The steps of one list, each at `path[i]`, in order: each sees the processes the ones
    /// before it created or ended.
    private static func decodeSteps(_ items: [JSONValue], file: String, path: String, procs: inout ProcessTracker) throws(ConfigError) -> [Step] {
        var steps: [Step] = []
        for (i, item) in items.enumerated() {
            steps.append(try decodeStep(item, file: file, path: "\(path)[\(i)]", procs: &procs))
        }
        return steps
    }

    /// The `threads` section (at most 16, by name). Each thread's steps see the processes of
    /// `steps` and may not use what another thread creates; `procs` becomes what the `after`
    /// steps see once every thread is done.
    private static func decodeThreads(_ tv: JSONValue, root f: Fields, procs: inout ProcessTracker) throws(ConfigError) -> [ThreadSpec] {
        let file = f.file
        let tf = try Fields(tv, file: file, path: "threads")
        guard tf.members.count <= 16 else { throw f.fail("threads", "expected at most 16 threads, found \(tf.members.count)") }
        let made = ThreadEffects.scan(tf.members.map(\.value))
        var effects = ThreadEffects()
        var threads: [ThreadSpec] = []
        for m in tf.members {
            let tpath = tf.sub(m.key)
            guard ConfigNames.isValid(m.key) else { throw ConfigError(file: file, path: tpath, message: ConfigNames.error("thread", m.key)) }
            guard case .array(let titems) = m.value else { throw ConfigError(file: file, path: tpath, message: "expected an array of steps, found \(m.value.kindName)") }
            guard !titems.isEmpty else { throw ConfigError(file: file, path: tpath, message: "a thread needs at least one step") }
            var tp = procs
            tp.thread = ThreadContext(name: m.key, otherProcesses: made.processes, otherPins: made.pins, otherPipes: made.pipes)
            let tsteps = try decodeSteps(titems, file: file, path: tpath, procs: &tp)
            try effects.add(tp.thread!, file: file)
            threads.append(ThreadSpec(name: m.key, steps: tsteps))
        }
        procs = effects.after(procs)
        return threads
    }

    /// `expect: { violation: "none" | NAME, outcomes: [[2], [3]] }`: either or both.
    private static func decodeExpect(_ v: JSONValue, file: String) throws(ConfigError) -> ExpectedOutcome {
        var o = try Fields(v, file: file, path: "expect")
        var expect = ExpectedOutcome(violation: nil)
        if let name = try o.string("violation") {
            guard name == "none" || Invariant(rawValue: name) != nil else {
                throw o.fail("violation", "expected \"none\" or an invariant name (\(Invariant.allCases.map(\.rawValue).joined(separator: ", "))), found \(JSONWriter.quote(name))")
            }
            expect.violation = name
        }
        if let ov = o.raw("outcomes") {
            let path = o.sub("outcomes")
            guard case .array(let list) = ov else { throw ConfigError(file: file, path: path, message: "expected an array of outcomes, each an array of observed values, found \(ov.kindName)") }
            var outcomes: [[Observation]] = []
            for (i, item) in list.enumerated() {
                guard case .array(let values) = item else {
                    throw ConfigError(file: file, path: "\(path)[\(i)]", message: "expected an array of observed values (numbers, lists of numbers, \"coherent\", \"stale\" or \"error: …\"), found \(item.kindName)")
                }
                var obs: [Observation] = []
                for (k, value) in values.enumerated() {
                    guard let ob = Observation(expected: value) else {
                        throw ConfigError(file: file, path: "\(path)[\(i)][\(k)]", message: "expected a number from 0 to 4294967295, a list of them, \"coherent\", \"stale\", \"unmapped\", \"not checked\" or a string starting \"error: \", found \(JSONWriter.write(value, indent: nil))")
                    }
                    obs.append(ob)
                }
                outcomes.append(obs)
            }
            expect.outcomes = outcomes
        }
        guard expect.violation != nil || expect.outcomes != nil else { throw o.fail("violation", "missing: expect needs \"violation\" or \"outcomes\"") }
        try o.finish()
        return expect
    }

    private static func decodeExplore(_ v: JSONValue, file: String, threads: [String]) throws(ConfigError) -> ExploreOptions {
        var o = try Fields(v, file: file, path: "explore")
        var opts = ExploreOptions()
        let strategy = try o.string("strategy") ?? "dfs"
        func seed() throws(ConfigError) -> UInt64 { UInt64(try o.int("seed", min: 0) ?? 1) }
        func count() throws(ConfigError) -> Int {
            let c = try o.int("count", min: 1) ?? 1000
            guard c <= 100_000_000 else { throw o.fail("count", "expected at most 100000000 schedules") }
            return c
        }
        switch strategy {
        case "scripted":
            let text = try o.requireString("schedule")
            do { _ = try Schedule.parse(text, threads: threads) } catch { throw o.fail("schedule", error.message) }
            opts.strategy = .scripted(text)
        case "dfs":
            var bound: Int? = 2
            if let b = o.raw("preemptionBound") {
                if case .null = b { bound = nil } else { bound = try o.int("preemptionBound", min: 0) }
            }
            opts.strategy = .dfs(preemptionBound: bound, reduction: try o.bool("reduction") ?? true)
        case "random":
            opts.strategy = .random(seed: try seed(), count: try count())
        case "pct":
            let depth = try o.int("depth", min: 1) ?? 3
            guard depth <= 64 else { throw o.fail("depth", "expected a depth from 1 to 64") }
            opts.strategy = .pct(seed: try seed(), depth: depth, count: try count())
        default:
            throw o.fail("strategy", "expected one of \"scripted\", \"dfs\", \"random\", \"pct\", found \(JSONWriter.quote(strategy))")
        }
        if strategy != "scripted" && o.has("schedule") { throw o.fail("schedule", "only the \"scripted\" strategy takes a schedule") }
        if let m = try o.int("maxSteps", min: 1) {
            guard m <= 10_000_000 else { throw o.fail("maxSteps", "expected at most 10000000") }
            opts.maxSteps = m
        }
        if let m = try o.int("maxSchedules", min: 1) {
            guard m <= 1_000_000_000 else { throw o.fail("maxSchedules", "expected at most 1000000000") }
            opts.maxSchedules = m
        }
        opts.all = try o.bool("all") ?? false
        if let names = try o.strings("ignore") {
            for (i, n) in names.enumerated() where Invariant(rawValue: n) == nil {
                throw ConfigError(file: file, path: "\(o.sub("ignore"))[\(i)]", message: "expected an invariant name, found \(JSONWriter.quote(n))")
            }
            opts.ignore = names
        }
        if let b = try o.int("shrinkBudget", min: 0) {
            guard b <= 100_000_000 else { throw o.fail("shrinkBudget", "expected at most 100000000") }
            opts.shrinkBudget = b
        }
        if let c = try o.string("stateCache") {
            guard case .dfs(_, true) = opts.strategy else { throw o.fail("stateCache", "only the \"dfs\" strategy with reduction takes a state cache") }
            guard let m = StateCacheMode(rawValue: c) else { throw o.fail("stateCache", "expected \"hash\", \"exact\" or \"off\", found \(JSONWriter.quote(c))") }
            opts.stateCache = m
        }
        try o.finish()
        return opts
    }

    private static func decodeSemantics(_ f: inout Fields, override: String?) throws(ConfigError) -> (String, Semantics) {
        let presetNames = Semantics.presets.map { "\"\($0.name)\"" }.joined(separator: ", ")
        if let name = override, Semantics.preset(named: name) == nil {
            throw ConfigError(file: f.file, path: "--semantics", message: "expected one of \(presetNames), found \(JSONWriter.quote(name))")
        }
        guard let v = f.raw("semantics") else {
            let name = override ?? "v6.18"
            return (name, Semantics.preset(named: name)!)
        }
        if case .string(let s) = v {
            guard let sem = Semantics.preset(named: s) else { throw f.fail("semantics", "expected one of \(presetNames), found \(JSONWriter.quote(s))") }
            if let name = override { return (name, Semantics.preset(named: name)!) }
            return (s, sem)
        }
        var o = try Fields(v, file: f.file, path: f.sub("semantics"))
        let configBase = try o.string("preset") ?? "v6.18"
        guard Semantics.preset(named: configBase) != nil else { throw o.fail("preset", "expected one of \(presetNames), found \(JSONWriter.quote(configBase))") }
        let base = override ?? configBase
        var sem = Semantics.preset(named: base)!
        var changed: [String] = []
        func note(_ k: String, _ v: String) { changed.append("\(k)=\(v)") }
        if let x = try o.choice("anonReuse", Semantics.AnonReuse.self) { sem.anonReuse = x; note("anonReuse", x.rawValue) }
        if let x = try o.choice("roPin", Semantics.ROPinRule.self) { sem.roPin = x; note("roPin", x.rawValue) }
        if let x = try o.choice("forkPinned", Semantics.ForkPinned.self) { sem.forkPinned = x; note("forkPinned", x.rawValue) }
        if let x = try o.choice("gupFastFork", Semantics.GUPFastFork.self) { sem.gupFastFork = x; note("gupFastFork", x.rawValue) }
        if let x = try o.choice("exclusiveCarry", Semantics.ExclusiveCarry.self) { sem.exclusiveCarry = x; note("exclusiveCarry", x.rawValue) }
        if let x = try o.choice("mprotectUpgrade", Semantics.MprotectUpgrade.self) { sem.mprotectUpgrade = x; note("mprotectUpgrade", x.rawValue) }
        if let x = try o.choice("forceWrite", Semantics.ForceWrite.self) { sem.forceWrite = x; note("forceWrite", x.rawValue) }
        if let x = try o.choice("faultOrder", Semantics.FaultOrder.self) { sem.faultOrder = x; note("faultOrder", x.rawValue) }
        if let x = try o.choice("cowCopy", Semantics.COWCopy.self) { sem.cowCopy = x; note("cowCopy", x.rawValue) }
        if let x = try o.bool("rangeReuse") { sem.rangeReuse = x; note("rangeReuse", "\(x)") }
        if let x = try o.bool("hugeZeroWPAllocatesTHP") { sem.hugeZeroWPAllocatesTHP = x; note("hugeZeroWPAllocatesTHP", "\(x)") }
        if let x = try o.choice("pinnedSwapout", Semantics.PinnedSwapout.self) { sem.pinnedSwapout = x; note("pinnedSwapout", x.rawValue) }
        if let x = try o.bool("vmaLocks") { sem.vmaLocks = x; note("vmaLocks", "\(x)") }
        if let x = try o.choice("vmaLockFaults", Semantics.VMALockFaults.self) { sem.vmaLockFaults = x; note("vmaLockFaults", x.rawValue) }
        if let inj = try o.strings("inject") {
            for (i, name) in inj.enumerated() {
                guard let injection = Injection(rawValue: name) else {
                    throw ConfigError(file: o.file, path: "\(o.sub("inject"))[\(i)]",
                                      message: "expected one of \(Injection.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), found \(JSONWriter.quote(name))")
                }
                injection.apply(to: &sem)
                note("inject", name)
            }
        }
        let anyCombination = try o.bool("allowAnyCombination") ?? false
        try o.finish()
        if !anyCombination { try checkHistorical(sem, changed: changed, &o) }
        return (changed.isEmpty ? base : "\(base) (\(changed.joined(separator: ", ")))", sem)
    }

    /// Refuses S1–S8 values that no kernel had together (`SemanticsEras`), naming two of
    /// them; `allowAnyCombination: true` is the way to run such a what-if.
    private static func checkHistorical(_ sem: Semantics, changed: [String], _ o: inout Fields) throws(ConfigError) {
        guard SemanticsEras.kernels(with: sem).isEmpty else { return }
        let set = Set(changed.map { String($0.prefix { $0 != "=" }) })
        let hint = "; set allowAnyCombination: true for a what-if study"
        guard let (a, b) = SemanticsEras.conflict(in: sem, changed: set) else {
            let named = SemanticsEras.values(of: sem).filter { set.contains($0.field) }.map(\.field)
            throw o.fail(named.first ?? "preset", "no kernel had \(named.joined(separator: ", ")) together with the preset's other rules\(hint)")
        }
        func show(_ v: SemanticsEras.Value) -> String { "\(v.field) \(JSONWriter.quote(v.value)) (\(SemanticsEras.describe(v.releases)))" }
        let blamed = set.contains(b.field) && !set.contains(a.field) ? b.field : a.field
        throw o.fail(blamed, "no kernel had \(show(a)) together with \(show(b))\(hint)")
    }

    private static func decodeTHP(_ v: JSONValue, file: String) throws(ConfigError) -> THPSettings {
        var o = try Fields(v, file: file, path: "thp")
        var thp = THPSettings()
        if let e = try o.choice("enabled", THPEnabled.self) { thp.enabled = e }
        if let z = try o.bool("useZeroPage") { thp.useZeroPage = z }
        if let s = o.raw("sizes") {
            let sizes = try Fields(s, file: file, path: "thp.sizes")
            for m in sizes.members {
                let valid = THPSettings.anonOrders.map { "\"\(formatSize(Geometry.pageSize << UInt64($0)))\"" }.joined(separator: ", ")
                guard let bytes = parseSize(m.key), let order = THPSettings.order(forSize: bytes) else {
                    throw sizes.fail(m.key, "expected an anon mTHP size (\(valid))")
                }
                guard case .string(let str) = m.value, let setting = THPSizeSetting(rawValue: str) else {
                    throw sizes.fail(m.key, "expected one of \(THPSizeSetting.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
                }
                thp.perOrder[order] = setting
            }
        }
        try o.finish()
        return thp
    }

    /// One step: the op's own fields (`OpBody.decode`), then what every step shares:
    /// `repeat` and `stride`, the per-step limits, the 47-bit address space.
    private static func decodeStep(_ v: JSONValue, file: String, path: String, procs: inout ProcessTracker) throws(ConfigError) -> Step {
        var f = try Fields(v, file: file, path: path)
        let op = try f.requireString("op")
        let entry = OpRegistry.entry(named: op)
        let (repeatCount, stride) = try decodeRepeat(&f, entry)
        guard let entry else {
            throw f.fail("op", "unknown op \(JSONWriter.quote(op)) (expected one of \(OpRegistry.all.map(\.name).joined(separator: ", ")))")
        }
        let step = Step(Op(try entry.decode(&f, &procs, repeatCount)), repeatCount: repeatCount, stride: entry.ownsStride ? 0 : stride)
        if let end = step.highestAddress, end > Geometry.taskSize {
            throw f.fail(f.has("repeat") ? "repeat" : "size", "the range ends beyond the 47-bit user address space (0x\(String(Geometry.taskSize, radix: 16)))")
        }
        return step
    }

    /// A step's `repeat` and `stride` (unless the op reads `stride` itself, as `touch`'s
    /// pattern does).
    private static func decodeRepeat(_ f: inout Fields, _ entry: OpEntry?) throws(ConfigError) -> (Int, UInt64) {
        let ownsStride = entry?.ownsStride ?? false
        let repeatCount = try f.int("repeat", min: 1) ?? 1
        if repeatCount > ConfigLimits.maxRepeat { throw f.fail("repeat", "expected at most \(ConfigLimits.maxRepeat) repetitions, found \(repeatCount)") }
        let stride = try f.size("stride") ?? 0
        if !ownsStride && f.has("stride") {
            guard f.has("repeat") else { throw f.fail("stride", "a stride needs \"repeat\"") }
            guard stride % Geometry.pageSize == 0 else { throw f.fail("stride", "expected a multiple of 4K") }
        }
        if repeatCount > 1 && !(entry?.repeatable ?? false) {
            throw f.fail("repeat", "only ops with an address can repeat")
        }
        if repeatCount > 1 && !ownsStride && !f.has("stride") { throw f.fail("stride", "missing required field (\"repeat\" needs a stride such as \"64K\")") }
        return (repeatCount, stride)
    }
}

func parseProt(_ s: String) -> Prot? {
    if s == "none" { return Prot.none }
    var p: Prot = []
    var rest = Substring(s)
    for (letter, bit) in [("r", Prot.read), ("w", Prot.write), ("x", Prot.exec)] where rest.hasPrefix(letter) {
        p.insert(bit)
        rest = rest.dropFirst()
    }
    return p.isEmpty || !rest.isEmpty ? nil : p
}

/// Static process lifecycle of a config: processes come into being on first use (or by
/// fork) and cannot be used after `exit`.
struct ProcessTracker {
    var live: Set<String> = []
    var dead: Set<String> = []
    var pins: Set<String> = []
    var pipes: Set<String> = []
    /// Set while a thread of `threads` is decoded: what it may use and what it ends.
    var thread: ThreadContext?
    /// Pins a thread of `threads` released, with the thread (for `after`'s errors).
    var releasedBy: [String: String] = [:]

    /// A step names process `p`. In `steps` a process comes into being when first named; a
    /// thread may only name a process the steps made or some thread forks.
    mutating func use(_ p: String, _ err: ConfigError) throws(ConfigError) {
        if dead.contains(p) { throw ConfigError(file: err.file, path: err.path, message: "process \(JSONWriter.quote(p)) has exited") }
        if let t = thread, !live.contains(p) && !t.otherProcesses.contains(p) {
            throw ConfigError(file: err.file, path: err.path, message: "no step and no fork of a thread creates process \(JSONWriter.quote(p)) (a thread of \"threads\" never creates a process by naming it)")
        }
        live.insert(p)
    }
    mutating func create(_ p: String, _ err: ConfigError) throws(ConfigError) {
        if live.contains(p) || dead.contains(p) {
            throw ConfigError(file: err.file, path: err.path, message: "process \(JSONWriter.quote(p)) already exists; a fork child needs a new name")
        }
        live.insert(p)
        thread?.created.insert(p)
    }
    mutating func exit(_ p: String, _ err: ConfigError) {
        live.remove(p)
        dead.insert(p)
        thread?.exits[p] = err.path
    }
    /// Whether pin `id` may be used here: held, or (in a thread) taken by another thread.
    func hasPin(_ id: String) -> Bool { pins.contains(id) || thread?.otherPins.contains(id) == true }
    func hasPipe(_ pipe: String) -> Bool { pipes.contains(pipe) || thread?.otherPipes.contains(pipe) == true }
    mutating func takePin(_ id: String, _ path: String) {
        pins.insert(id)
        thread?.taken[id] = path
    }
    mutating func releasePin(_ id: String, _ path: String) {
        pins.remove(id)
        thread?.released[id] = path
    }
    /// The error for a pin that is not held here.
    func noPin(_ id: String, _ err: ConfigError) -> ConfigError {
        if let t = releasedBy[id] {
            return ConfigError(file: err.file, path: err.path, message: "pin \(JSONWriter.quote(id)) may be gone: thread \(t) unpins it")
        }
        return ConfigError(file: err.file, path: err.path, message: "no pin \(JSONWriter.quote(id)) is held at this step")
    }
}

/// What one thread of `threads` may use and what it does to shared names.
struct ThreadContext {
    var name: String
    /// Processes, pins and pipes some thread creates (a racing thread may use them).
    var otherProcesses: Set<String>
    var otherPins: Set<String>
    var otherPipes: Set<String>
    var created: Set<String> = []
    var exits: [String: String] = [:]
    var taken: [String: String] = [:]
    var released: [String: String] = [:]
    var filled: Set<String> = []
    var drained: [String: String] = [:]
}

/// The threads' effects together: two threads may not exit one process or release one pin
/// (and names taken in two threads are errors); what `after` sees.
struct ThreadEffects {
    private var exits: [String: String] = [:]
    private var releases: [String: (thread: String, path: String)] = [:]
    private var takes: [String: String] = [:]
    private var drains: [String: String] = [:]
    private var created: Set<String> = []
    private var filled: Set<String> = []

    /// The fork children, pin ids and pipes the threads name, from the raw steps.
    static func scan(_ threads: [JSONValue]) -> (processes: Set<String>, pins: Set<String>, pipes: Set<String>) {
        var out: (processes: Set<String>, pins: Set<String>, pipes: Set<String>) = ([], [], [])
        for case .array(let steps) in threads {
            for case .object(let members) in steps {
                func str(_ k: String) -> String? {
                    guard let v = members.first(where: { $0.key == k })?.value, case .string(let s) = v else { return nil }
                    return s
                }
                guard let op = str("op"), let entry = OpRegistry.entry(named: op) else { continue }
                for (field, kind) in entry.creates {
                    guard let name = str(field) else { continue }
                    switch kind {
                    case .process: out.processes.insert(name)
                    case .pin: out.pins.insert(name)
                    case .pipe: out.pipes.insert(name)
                    }
                }
            }
        }
        return out
    }

    mutating func add(_ t: ThreadContext, file: String) throws(ConfigError) {
        for (p, path) in t.exits.sorted(by: { $0.key < $1.key }) {
            if let first = exits[p] { throw ConfigError(file: file, path: path, message: "process \(JSONWriter.quote(p)) also exits at \(first): two threads cannot both exit it") }
            exits[p] = path
        }
        for (id, path) in t.released.sorted(by: { $0.key < $1.key }) {
            if let first = releases[id] { throw ConfigError(file: file, path: path, message: "pin \(JSONWriter.quote(id)) is also unpinned at \(first.path): two threads cannot both unpin it") }
            releases[id] = (t.name, path)
        }
        for (id, path) in t.taken.sorted(by: { $0.key < $1.key }) {
            if let first = takes[id] { throw ConfigError(file: file, path: path, message: "pin \(JSONWriter.quote(id)) is also taken at \(first): give each pin its own id") }
            takes[id] = path
        }
        for (pipe, path) in t.drained.sorted(by: { $0.key < $1.key }) {
            if let first = drains[pipe] { throw ConfigError(file: file, path: path, message: "pipe \(JSONWriter.quote(pipe)) is also read at \(first): two threads cannot both drain it") }
            drains[pipe] = path
        }
        created.formUnion(t.created)
        filled.formUnion(t.filled)
    }

    /// The state `after` starts from: what the steps left, changed by every thread.
    func after(_ base: ProcessTracker) -> ProcessTracker {
        var p = base
        p.live.formUnion(created)
        for e in exits.keys { p.live.remove(e); p.dead.insert(e) }
        p.pins.formUnion(takes.keys)
        for (id, r) in releases { p.pins.remove(id); p.releasedBy[id] = r.thread }
        p.pipes.formUnion(filled)
        p.pipes.subtract(drains.keys)
        return p
    }
}

/// Injected bugs a config can switch on (`semantics.inject`).
package enum Injection: String, CaseIterable, Sendable {
    case skipPTESameAfterCopy = "skip-pte-same-after-copy"
    case gupFastSkipsSeqCheck = "gup-fast-skips-seq-check"
    case gupFastSkipsPTERecheck = "gup-fast-skips-pte-recheck"
    case forkIgnoresPins = "fork-ignores-pins"
    case skipPTERangeNoneRecheck = "skip-pte-range-none-recheck"
    case tryShareIgnoresPins = "try-share-ignores-pins"
    case wpCopyWithoutFolioGet = "wp-copy-without-folio-get"

    func apply(to s: inout Semantics) {
        switch self {
        case .skipPTESameAfterCopy: s.skipPTESameAfterCopy = true
        case .gupFastSkipsSeqCheck: s.gupFastSkipsSeqCheck = true
        case .gupFastSkipsPTERecheck: s.gupFastSkipsPTERecheck = true
        case .forkIgnoresPins: s.forkIgnoresPins = true
        case .skipPTERangeNoneRecheck: s.skipPTERangeNoneRecheck = true
        case .tryShareIgnoresPins: s.tryShareIgnoresPins = true
        case .wpCopyWithoutFolioGet: s.wpCopyWithoutFolioGet = true
        }
    }
}

/// The work one step may ask for, checked before anything runs, so that a config cannot make
/// FolioSim run for hours or allocate without bound.
package enum ConfigLimits {
    /// Repetitions of one step.
    package static let maxRepeat = 1 << 20
    /// Page accesses of one `write`, `read` or `touch` step, repetitions included: 2^26
    /// pages, a 256 GiB write.
    package static let maxAccessesPerStep = 1 << 26
    /// Pages one pin, vmsplice or io_uring registration holds: 2^20 pages, 4 GiB.
    package static let maxPinPages = 1 << 20
    /// Pages of address space the range ops (mmap, munmap, mprotect, madvise, mremap) may walk
    /// in one step, repetitions included: 2^35 pages, the whole 47-bit user address space.
    package static let maxRangePagesPerStep: UInt64 = 1 << 35

    /// `a × b`, or `UInt64.max` when that overflows.
    static func times(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (t, o) = a.multipliedReportingOverflow(by: b)
        return o ? .max : t
    }

    /// A range op's walk: `pages` of address space, `repeats` times.
    static func checkWalk(pages: UInt64, repeats: UInt64, _ f: inout Fields) throws(ConfigError) {
        let n = times(pages, repeats)
        if n > maxRangePagesPerStep {
            throw f.fail("repeat", "the step would walk \(n) pages of address space; at most \(maxRangePagesPerStep) per step")
        }
    }

    /// A `write` or `read` of `size` bytes, `repeats` times: one access a page.
    static func checkAccesses(size: UInt64, repeats: UInt64, _ f: inout Fields) throws(ConfigError) {
        let pages = times(size >> Geometry.pageShift, repeats)
        if pages > UInt64(maxAccessesPerStep) {
            throw f.fail(f.has("repeat") ? "repeat" : "size", "the step would access \(pages) pages; at most \(maxAccessesPerStep) (256 GiB) per step")
        }
    }

    /// A pin, io_uring buffer or vmsplice of `size` bytes.
    static func checkPin(size: UInt64, _ f: inout Fields) throws(ConfigError) {
        let pages = size >> Geometry.pageShift
        if pages > UInt64(maxPinPages) { throw f.fail("size", "expected at most \(maxPinPages) pages (4G) in one pin, found \(pages)") }
    }
}
