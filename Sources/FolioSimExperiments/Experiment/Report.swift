import FolioSimModel
import FolioSimExplore

/// Reports of a run: one JSON object (`--json`) or a readable summary. Both read only the
/// `RunResult`; keys and rows come in a fixed order, so equal runs print equal bytes.
public enum Report {
    /// The mTHP sizes reported, as the kernel names its stats directories.
    static let mthpOrders = Array(THPSettings.anonOrders)

    static func statsJSON(_ s: ProcessStats, rss: Int, gauges: [Int: (Int, Int)]? = nil) -> JSONValue {
        var faults: [(key: String, value: JSONValue)] = [("total", .int(s.faultsTotal))]
        for k in FaultKind.allCases { faults.append((k.rawValue, .int(s.faults(k)))) }
        var mthp: [(key: String, value: JSONValue)] = []
        for o in mthpOrders {
            let c = s.mthp[o]
            var m: [(key: String, value: JSONValue)] = zip(MTHPCounters.names, c.values).map { ($0, .int($1)) }
            if let g = gauges?[o] {
                m.append(("nr_anon", .int(g.0)))
                m.append(("nr_anon_partially_mapped", .int(g.1)))
            }
            mthp.append((FolioOrder(o).sizeName, .object(m)))
        }
        return .object([
            ("faults", .object(faults)),
            ("mthp", .object(mthp)),
            ("rssAnonPages", .int(rss)),
            ("cowCopiedBytes", .uint(s.cowCopiedBytes)),
            ("forkCopiedBytes", .uint(s.forkCopiedBytes)),
            ("pagesAllocated", .int(s.pagesAllocated)),
        ])
    }

    /// `nr_anon` and `nr_anon_partially_mapped` per order, from the memmap.
    static func gauges(_ w: World) -> [Int: (Int, Int)] {
        var g: [Int: (Int, Int)] = [:]
        for o in mthpOrders { g[o] = (0, 0) }
        let mem = w.memory
        // Without a folio of order 2 or more there is nothing to count: skip the memmap scan
        // (1.5 % of a 16 GiB order-0 write's run, perf).
        let allocated = mem.allocatedFolios
        guard allocated[2...].contains(where: { $0 != 0 }) else { return g }
        for range in mem.usedFrameRanges {
            var pfn = range.lowerBound
            while pfn < range.upperBound {
                let f = mem.frames[pfn]
                guard f.flags & PageFlag.allocated != 0, f.flags & PageFlag.head != 0 else { pfn += 1; continue }
                let folio = PFN(pfn)
                let o = Int(f.flags & PageFlag.orderMask)
                if o >= 2 && mem.isAnon(folio) && !mem.isZero(folio) {
                    g[o]!.0 += 1
                    if mem.test(folio, PageFlag.partiallyMapped) { g[o]!.1 += 1 }
                }
                pfn += 1 << o
            }
        }
        return g
    }

    /// Folios allocated per size, from order 0 up.
    static func folioCensus(_ w: World) -> [(key: String, value: JSONValue)] {
        (0...Geometry.maxOrder).compactMap { o in
            let n = w.memory.allocatedFolios[o]
            return n == 0 ? nil : (FolioOrder(o).sizeName, .int(n))
        }
    }

    /// `run --json`: every counter, gauge, folio census, error and violation, keys in a fixed order.
    public static func json(_ r: RunResult) -> JSONValue {
        let w = r.world
        let liveRSS = w.mms.filter(\.alive).reduce(0) { $0 + $1.rssAnon }
        var procs: [(key: String, value: JSONValue)] = []
        for mm in w.mms {
            guard case .object(var o) = statsJSON(mm.stats, rss: mm.rssAnon) else { continue }
            o.append(("exited", .bool(!mm.alive)))
            procs.append((mm.name, .object(o)))
        }
        let violations: [JSONValue] = w.violations.map { v in
            var o: [(key: String, value: JSONValue)] = [("invariant", .string(v.invariant)), ("process", .string(v.process))]
            o.append(("address", v.address.map { .string("0x" + String($0, radix: 16)) } ?? .null))
            o.append(("folio", v.folio.map { .string("0x" + String($0.raw, radix: 16)) } ?? .null))
            o.append(("operation", .string(v.operation)))
            o.append(("detail", .string(v.detail)))
            return .object(o)
        }
        let errors: [JSONValue] = r.errors.map {
            .object([("step", .int($0.step)), ("operation", .string($0.operation)), ("error", .string($0.message))])
        }
        let pinChecks: [JSONValue] = r.pinChecks.map {
            .object([("step", .int($0.step)), ("id", .string($0.id)), ("coherentPages", .int($0.coherentPages)),
                     ("pages", .int($0.pages)), ("verdict", .string($0.verdict))])
        }
        let memory: JSONValue = .object([
            ("totalPages", .int(w.memory.totalPages)),
            ("usedPages", .int(w.memory.usedPages)),
            ("peakUsedPages", .int(r.peakUsedPages)),
            ("peakAnonPages", .int(r.peakAnonPages)),
            ("folios", .object(folioCensus(w))),
            ("deferredSplitQueue", .int(w.deferredSplitQueue.count)),
            ("swapSlotsUsed", .int(w.swap.usedSlots)),
        ])
        var top: [(String, JSONValue)] = [
            ("name", .string(r.scenario.name)),
            ("semantics", .string(r.scenario.semanticsName)),
            ("total", statsJSON(w.totalStats, rss: liveRSS, gauges: gauges(w))),
            ("processes", .object(procs)),
            ("memory", memory),
            ("pinChecks", .array(pinChecks)),
        ]
        if !r.traces.isEmpty {
            top.append(("traces", .array(r.traces.map {
                .object([("file", .string($0.file)), ("events", .int($0.events)), ("anonFaults", .int($0.anonFaults)),
                         ("fileFaults", .int($0.fileFaults)), ("unmappedFaults", .int($0.unmappedFaults)),
                         ("processes", .int($0.processes)), ("failedOps", .int($0.failedOps)), ("vmas", .int($0.vmas))])
            })))
        }
        if !r.reads.isEmpty {
            top.append(("reads", .array(r.reads.map {
                .object([("step", .int($0.step)), ("source", .string($0.source)), ("data", .array($0.data.map { .int(Int($0)) }))])
            })))
        }
        top += [("errors", .array(errors)), ("violations", .array(violations))]
        if !r.scenario.threads.isEmpty || !r.scenario.after.isEmpty {
            top.append(("observed", .array(r.observed.map(\.json))))
        }
        if r.scenario.expect != nil { top.append(("expected", .bool(matches(r)))) }
        return .object(top)
    }

    /// Whether one run meets the config's `expect`: the named violation (or none), and its
    /// outcome among the listed ones (one schedule shows one outcome).
    public static func matches(_ r: RunResult) -> Bool {
        guard let e = r.scenario.expect else { return r.world.violations.isEmpty }
        if let v = e.violation {
            if v == "none" ? !r.world.violations.isEmpty : !r.world.violations.contains(where: { $0.invariant == v }) { return false }
        }
        if let o = e.outcomes, !o.map(Observation.render).contains(Observation.render(r.observed)) { return false }
        return true
    }

    /// The readable summary.
    public static func text(_ r: RunResult) -> String {
        let w = r.world
        let s = r.scenario
        var out: [String] = []
        var thpDesc = "enabled=\(s.thp.enabled.rawValue)"
        for o in mthpOrders where s.thp.perOrder[o] != .never { thpDesc += " \(FolioOrder(o).sizeName)=\(s.thp.perOrder[o].rawValue)" }
        out.append("\(oneLine(s.name)): \(s.steps.count) steps, semantics \(s.semanticsName), memory \(formatSize(s.memoryBytes)), THP \(thpDesc)")
        out.append("")
        let tot = w.totalStats
        let kinds: [FaultKind] = FaultKind.allCases.filter { k in tot.faults(k) > 0 }
        let header = ["faults", "total"] + kinds.map(\.rawValue) + ["cow copied", "rss anon"]
        var rows: [[String]] = [header]
        for mm in w.mms {
            let st = mm.stats
            rows.append([mm.name + (mm.alive ? "" : " (exited)"), "\(st.faultsTotal)"] + kinds.map { "\(st.faults($0))" }
                        + [formatBytes(st.cowCopiedBytes), "\(mm.rssAnon)"])
        }
        rows.append(["total", "\(tot.faultsTotal)"] + kinds.map { "\(tot.faults($0))" }
                    + [formatBytes(tot.cowCopiedBytes), "\(w.mms.filter(\.alive).reduce(0) { $0 + $1.rssAnon })"])
        out += table(rows)
        let g = gauges(w)
        let activeOrders = mthpOrders.filter { tot.mthp[$0] != MTHPCounters() || g[$0]!.0 > 0 }
        if !activeOrders.isEmpty {
            out.append("")
            var mrows: [[String]] = [["mTHP"] + MTHPCounters.names + ["nr_anon", "partially_mapped"]]
            for o in activeOrders {
                mrows.append([FolioOrder(o).sizeName] + tot.mthp[o].values.map { "\($0)" } + ["\(g[o]!.0)", "\(g[o]!.1)"])
            }
            out += table(mrows)
        }
        out.append("")
        let census = folioCensus(w).map { kv -> String in
            if case .number(let n, _) = kv.value { return "\(Int(n)) × \(kv.key)" }
            return kv.key
        }
        out.append("memory: \(w.memory.usedPages) of \(w.memory.totalPages) pages used (peak \(r.peakUsedPages)); folios: \(census.joined(separator: ", "))")
        if tot.forkCopiedBytes > 0 { out.append("fork copied \(formatBytes(tot.forkCopiedBytes)) for possibly pinned pages") }
        if !w.deferredSplitQueue.isEmpty { out.append("deferred split queue: \(w.deferredSplitQueue.count) folios") }
        for c in r.pinChecks {
            out.append("checkPin \(c.id) (step \(c.step)): \(c.verdict), \(c.coherentPages)/\(c.pages) pages still mapped at the pinned address")
        }
        for d in r.reads { out.append("read \(d.source) (step \(d.step)): \(describeData(d.data))") }
        for t in r.traces {
            out.append("trace \(t.file): \(t.events) events, \(t.processes) processes; faults: \(t.anonFaults) in anonymous memory (replayed), \(t.fileFaults) in file or special mappings (counted only), \(t.unmappedFaults) outside any traced mapping; \(t.vmas) anonymous VMAs at exit\(t.failedOps > 0 ? "; \(t.failedOps) mapping changes refused" : "")")
        }
        for e in r.errors { out.append("error at step \(e.step) (\(e.operation)): \(e.message)") }
        if !s.threads.isEmpty {
            out.append("threads ran one after another in the order written (\(s.threads.map(\.name).joined(separator: ", "))), each op to its end; `foliosim explore` interleaves them")
        }
        if !s.threads.isEmpty || !s.after.isEmpty { out.append("observed by after: \(Observation.render(r.observed))") }
        if w.violations.isEmpty {
            out.append(r.scenario.check == .off ? "invariants: not checked" : "invariants: all held")
        } else {
            out.append("violations: \(w.violations.count)")
            for v in w.violations { out.append("  \(v)") }
        }
        if let e = s.expect { out.append("expected: \(ExploreReport.expectation(e)) — \(matches(r) ? "as expected" : "NOT as expected")") }
        return out.joined(separator: "\n") + "\n"
    }

    static func table(_ rows: [[String]]) -> [String] {
        let widths = rows.reduce(into: [Int](repeating: 0, count: rows[0].count)) { w, row in
            for (i, c) in row.enumerated() { w[i] = max(w[i], c.count) }
        }
        return rows.map { row in
            row.enumerated().map { i, c in
                i == 0 ? c + String(repeating: " ", count: widths[i] - c.count)
                       : String(repeating: " ", count: widths[i] - c.count) + c
            }.joined(separator: "  ")
        }
    }

    static func formatBytes(_ b: UInt64) -> String {
        if b == 0 { return "0" }
        return formatSize(b).hasSuffix("K") || formatSize(b).hasSuffix("M") || formatSize(b).hasSuffix("G") ? formatSize(b) : "\(b)B"
    }
}

/// Page data as runs of equal values: `1 ×15, 255`, or `nothing` for no pages.
func describeData(_ data: [UInt32]) -> String {
    guard !data.isEmpty else { return "nothing" }
    var parts: [String] = []
    var i = 0
    while i < data.count {
        var j = i
        while j + 1 < data.count && data[j + 1] == data[i] { j += 1 }
        parts.append(j > i ? "\(data[i]) ×\(j - i + 1)" : "\(data[i])")
        i = j + 1
    }
    return parts.joined(separator: ", ")
}
