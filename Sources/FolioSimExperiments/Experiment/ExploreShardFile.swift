import FolioSimModel
import FolioSimExplore

/// The file `explore --shard I/N --out FILE` writes and `explore --merge` reads: JSON, with
/// 64-bit digests as hex strings and runs as schedule strings.
extension ExploreShard {
    /// The fingerprint of a search: FNV-1a of the shard file format, the config's text, the
    /// rules in effect and the options (`--jobs` aside: it changes no result). A build with
    /// other kernel paths but the same format is caught only by the merge's replays.
    package static func fingerprint(configText: String, scenario: Scenario, options: ExploreOptions) -> String {
        var o = options
        o.jobs = nil
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (Self.format + "\u{0}" + configText + "\u{0}" + scenario.semanticsName + "\u{0}" + String(describing: o)).utf8 {
            h = (h ^ UInt64(b)) &* 0x100_0000_01b3
        }
        return String(h, radix: 16)
    }

    /// The fingerprint of a search of the config in `path` (loaded as `scenario`).
    public static func fingerprint(configFile path: String, scenario: Scenario, options: ExploreOptions) -> String {
        fingerprint(configText: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "", scenario: scenario, options: options)
    }

    static let format = "foliosim explore shard 1"

    package var json: JSONValue {
        .object([
            ("format", .string(Self.format)), ("shard", .int(index)), ("count", .int(count)),
            ("fingerprint", .string(fingerprint)), ("threads", .int(threads)),
            ("subtrees", .array(subtrees.map(\.json))),
        ])
    }

    /// Writes the shard file `--merge` reads.
    public func write(to path: String) throws {
        try (JSONWriter.write(json) + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Reads a shard file; a one-line error naming the file and field otherwise.
    public static func read(path: String) throws(ConfigError) -> ExploreShard {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(file: path, path: "", message: "cannot read the file (expected the output of foliosim explore --shard I/N --out FILE)")
        }
        let r = ShardReader(file: path, root: try Scenario.parse(text: text, file: path))
        guard case .string(Self.format)? = Sweep.lookup(r.root, ["format"]) else {
            throw ConfigError(file: path, path: "format", message: "not a shard file written by foliosim explore --shard (expected \(JSONWriter.quote(Self.format)))")
        }
        let count = try r.int(["count"], 1...1024)
        let shard = ExploreShard(index: try r.int(["shard"], 1...count), count: count, fingerprint: try r.string(["fingerprint"]),
                                 threads: try r.int(["threads"], 1...64), subtrees: [])
        guard case .array(let subs)? = Sweep.lookup(r.root, ["subtrees"]) else { throw r.error("subtrees", "expected an array") }
        var out = shard
        for (k, v) in subs.enumerated() { out.subtrees.append(try r.subtree(v, "subtrees[\(k)]", threads: shard.threads)) }
        return out
    }
}

extension SubtreeRecord {
    var json: JSONValue {
        var m: [(key: String, value: JSONValue)] = [
            ("thread", .int(thread)), ("runs", .int(runs)), ("pruned", .int(pruned)), ("points", .int(points)),
            ("complete", .bool(complete)), ("ends", .array(ends.map { .string(String($0, radix: 16)) })),
            ("found", .array(found.map(\.json))), ("outcomes", .array(outcomes.map(\.json))),
        ]
        if let t = tooLong { m.append(("tooLong", .string(t))) }
        if let c = cache {
            var cm: [(key: String, value: JSONValue)] = [("states", .int(c.states)), ("matched", .int(c.matched)), ("transitions", .int(c.transitions)),
                                                         ("maxDepth", .int(c.maxDepth)), ("memoryBytes", .int(c.memoryBytes))]
            if let f = c.failure { cm.append(("failure", .string(f))) }
            m.append(("cache", .object(cm)))
        }
        return .object(m)
    }
}

extension SubtreeRecord.Run {
    var json: JSONValue { .object([("key", .string(key)), ("schedule", .string(schedule)), ("count", .int(count))]) }
}

/// Typed reads of a shard file's fields, each error naming the file and the field.
private struct ShardReader {
    let file: String
    let root: JSONValue

    func error(_ path: String, _ message: String) -> ConfigError { ConfigError(file: file, path: path, message: message) }

    func int(_ path: [String], _ range: ClosedRange<Int>, in v: JSONValue? = nil, at prefix: String = "") throws(ConfigError) -> Int {
        let name = prefix + path.joined(separator: ".")
        guard case .number(let d, _)? = Sweep.lookup(v ?? root, path), d == d.rounded(), d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw error(name, "expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(d)
    }

    func string(_ path: [String], in v: JSONValue? = nil, at prefix: String = "") throws(ConfigError) -> String {
        guard case .string(let s)? = Sweep.lookup(v ?? root, path) else { throw error(prefix + path.joined(separator: "."), "expected a string") }
        return s
    }

    func subtree(_ v: JSONValue, _ at: String, threads: Int) throws(ConfigError) -> SubtreeRecord {
        let p = at + "."
        let big = 0...Int(Int64.max >> 11)
        guard case .bool(let complete)? = Sweep.lookup(v, ["complete"]) else { throw error(p + "complete", "expected true or false") }
        guard case .array(let endv)? = Sweep.lookup(v, ["ends"]) else { throw error(p + "ends", "expected an array of hex digests") }
        var ends: [UInt64] = []
        for (k, e) in endv.enumerated() {
            guard case .string(let s) = e, let d = UInt64(s, radix: 16) else { throw error(p + "ends[\(k)]", "expected a hex digest") }
            ends.append(d)
        }
        var tooLong: String?
        if Sweep.lookup(v, ["tooLong"]) != nil { tooLong = try string(["tooLong"], in: v, at: p) }
        var cache: CacheStats?
        if let c = Sweep.lookup(v, ["cache"]) {
            let cp = p + "cache."
            var failure: String?
            if Sweep.lookup(c, ["failure"]) != nil { failure = try string(["failure"], in: c, at: cp) }
            cache = CacheStats(states: try int(["states"], big, in: c, at: cp), matched: try int(["matched"], big, in: c, at: cp),
                               transitions: try int(["transitions"], big, in: c, at: cp), maxDepth: try int(["maxDepth"], big, in: c, at: cp),
                               memoryBytes: try int(["memoryBytes"], big, in: c, at: cp), failure: failure)
        }
        return SubtreeRecord(thread: try int(["thread"], 0...(threads - 1), in: v, at: p), runs: try int(["runs"], big, in: v, at: p),
                             pruned: try int(["pruned"], big, in: v, at: p), points: try int(["points"], big, in: v, at: p),
                             complete: complete, tooLong: tooLong, ends: ends,
                             found: try runs(v, "found", p), outcomes: try runs(v, "outcomes", p), cache: cache)
    }

    private func runs(_ v: JSONValue, _ key: String, _ p: String) throws(ConfigError) -> [SubtreeRecord.Run] {
        guard case .array(let rv)? = Sweep.lookup(v, [key]) else { throw error(p + key, "expected an array") }
        var out: [SubtreeRecord.Run] = []
        for (k, r) in rv.enumerated() {
            let rp = "\(p)\(key)[\(k)]."
            out.append(SubtreeRecord.Run(key: try string(["key"], in: r, at: rp), schedule: try string(["schedule"], in: r, at: rp),
                                         count: try int(["count"], 1...Int(Int64.max >> 11), in: r, at: rp)))
        }
        return out
    }
}
