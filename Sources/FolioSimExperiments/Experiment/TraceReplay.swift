import FolioSimModel
import FolioSimExplore

/// Replaying a `PerfTrace` (the `trace` step): anonymous mappings and the faults in them run
/// through the simulated kernel; file and special mappings are only tracked, so that a fault
/// in one is counted as such. Each traced process is a FolioSim process named `pidN` (`pidN+1`,
/// `pidN+2`, … after each exec).
package struct TraceStats: Sendable, Equatable {
    package var file: String
    package var events = 0
    /// Faults in anonymous mappings (replayed), in file or special mappings (counted), and
    /// at addresses no mapping of the trace covers.
    package var anonFaults = 0
    package var fileFaults = 0
    package var unmappedFaults = 0
    package var processes = 0
    /// Mapping changes the simulated kernel refused.
    package var failedOps = 0
}

/// Non-overlapping address ranges, in order.
struct RangeSet {
    private(set) var ranges: [Range<UInt64>] = []

    func overlaps(_ r: Range<UInt64>) -> [Range<UInt64>] {
        ranges.compactMap { x in x.overlaps(r) ? max(x.lowerBound, r.lowerBound)..<min(x.upperBound, r.upperBound) : nil }
    }
    func contains(_ a: UInt64) -> Bool { ranges.contains { $0.contains(a) } }
    /// The parts of `r` not in the set.
    func gaps(_ r: Range<UInt64>) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        var cur = r.lowerBound
        for x in ranges where x.overlaps(r) {
            if x.lowerBound > cur { out.append(cur..<x.lowerBound) }
            cur = max(cur, x.upperBound)
        }
        if cur < r.upperBound { out.append(cur..<r.upperBound) }
        return out
    }
    mutating func insert(_ r: Range<UInt64>) {
        guard !r.isEmpty else { return }
        var lo = r.lowerBound, hi = r.upperBound
        ranges.removeAll { x in
            guard x.upperBound >= lo && x.lowerBound <= hi else { return false }
            lo = min(lo, x.lowerBound)
            hi = max(hi, x.upperBound)
            return true
        }
        ranges.append(lo..<hi)
        ranges.sort { $0.lowerBound < $1.lowerBound }
    }
    mutating func remove(_ r: Range<UInt64>) {
        var out: [Range<UInt64>] = []
        for x in ranges {
            guard x.overlaps(r) else { out.append(x); continue }
            if x.lowerBound < r.lowerBound { out.append(x.lowerBound..<r.lowerBound) }
            if x.upperBound > r.upperBound { out.append(r.upperBound..<x.upperBound) }
        }
        ranges = out
    }
}

extension RunState {
    func replay(_ trace: PerfTrace, file: String) async -> TraceStats {
        var stats = TraceStats(file: file, events: trace.events.count)
        var names: [Int32: String] = [:]
        var execs: [Int32: Int] = [:]
        var anon: [Int32: RangeSet] = [:]
        var other: [Int32: RangeSet] = [:]
        func proc(_ pid: Int32) -> SimThread? {
            if names[pid] == nil {
                names[pid] = "pid\(pid)"
                stats.processes += 1
            }
            return thread(names[pid]!)
        }
        /// Calls `body(thread, address, size)` for each range in `pid`'s process, counting refusals.
        func run(_ pid: Int32, _ ranges: [Range<UInt64>], _ body: (SimThread, UInt64, UInt64) async throws(MMError) -> Void) async {
            for r in ranges {
                guard let t = proc(pid) else { stats.failedOps += 1; return }
                do { try await body(t, r.lowerBound, r.upperBound - r.lowerBound) } catch { stats.failedOps += 1 }
            }
        }
        for e in trace.events {
            defer { notePeaks() }
            switch e {
            case .map(let pid, let addr, let size, let isAnon, let prot):
                let r = addr..<addr + size
                if isAnon {
                    await run(pid, anon[pid, default: RangeSet()].gaps(r)) { t, a, n throws(MMError) in try await world.mmap(t, addr: a, size: n, prot: prot, kind: .privateAnon) }
                    anon[pid, default: RangeSet()].insert(r)
                    other[pid, default: RangeSet()].remove(r)
                } else {
                    await run(pid, anon[pid, default: RangeSet()].overlaps(r)) { t, a, n throws(MMError) in try await world.munmap(t, addr: a, size: n) }
                    anon[pid, default: RangeSet()].remove(r)
                    other[pid, default: RangeSet()].insert(r)
                }
            case .unmap(let pid, let addr, let size):
                let r = addr..<addr + size
                await run(pid, anon[pid, default: RangeSet()].overlaps(r)) { t, a, n throws(MMError) in try await world.munmap(t, addr: a, size: n) }
                anon[pid, default: RangeSet()].remove(r)
                other[pid, default: RangeSet()].remove(r)
            case .protect(let pid, let addr, let size, let prot):
                await run(pid, anon[pid, default: RangeSet()].overlaps(addr..<addr + size)) { t, a, n throws(MMError) in try await world.mprotect(t, addr: a, size: n, prot: prot) }
            case .advise(let pid, let addr, let size, let advice):
                await run(pid, anon[pid, default: RangeSet()].overlaps(addr..<addr + size)) { t, a, n throws(MMError) in try await world.madvise(t, addr: a, size: n, advice: advice) }
            case .move(let pid, let from, let oldSize, let to, let newSize):
                let keep = min(oldSize, newSize)
                let wasAnon = anon[pid, default: RangeSet()].overlaps(from..<from + oldSize) == [from..<from + oldSize]
                if wasAnon {
                    if to != from && keep > 0 {
                        await run(pid, [from..<from + keep]) { t, a, n throws(MMError) in try await world.mremap(t, from: a, size: n, to: to) }
                    }
                    if oldSize > keep {
                        await run(pid, [from + keep..<from + oldSize]) { t, a, n throws(MMError) in try await world.munmap(t, addr: a, size: n) }
                    }
                    if newSize > keep {
                        await run(pid, [to + keep..<to + newSize]) { t, a, n throws(MMError) in
                            try await world.mmap(t, addr: a, size: n, prot: [.read, .write], kind: .privateAnon)
                        }
                    }
                    anon[pid, default: RangeSet()].remove(from..<from + oldSize)
                    anon[pid, default: RangeSet()].insert(to..<to + newSize)
                } else {
                    other[pid, default: RangeSet()].remove(from..<from + oldSize)
                    other[pid, default: RangeSet()].insert(to..<to + newSize)
                }
            case .fork(let parent, let child):
                guard let t = proc(parent) else { stats.failedOps += 1; continue }
                let childName = "pid\(child)"
                do {
                    threads[childName] = try await world.fork(t, childName: childName)
                    names[child] = childName
                    stats.processes += 1
                    anon[child] = anon[parent]
                    other[child] = other[parent]
                } catch {
                    stats.failedOps += 1
                }
            case .exec(let pid):
                if let name = names[pid], let t = threads[name] {
                    await world.exitMM(t)
                    threads[name] = nil
                }
                if names[pid] != nil {
                    execs[pid, default: 0] += 1
                    names[pid] = "pid\(pid)+\(execs[pid]!)"
                    stats.processes += 1
                }
                anon[pid] = RangeSet()
                other[pid] = RangeSet()
            case .exit(let pid):
                if let name = names[pid], let t = threads[name] {
                    await world.exitMM(t)
                    threads[name] = nil
                }
                anon[pid] = nil
                other[pid] = nil
            case .fault(let pid, let addr, let write):
                if anon[pid]?.contains(addr) == true {
                    stats.anonFaults += 1
                    guard let t = proc(pid) else { continue }
                    _ = await world.access(t, addr, write: write, value: 1)
                } else if other[pid]?.contains(addr) == true {
                    stats.fileFaults += 1
                } else {
                    stats.unmappedFaults += 1
                }
            }
        }
        return stats
    }
}
