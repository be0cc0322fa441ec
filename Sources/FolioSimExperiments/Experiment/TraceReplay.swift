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
    /// The anonymous VMAs each traced address space had when it went (exit or exec), or at
    /// the end of the trace, summed: what /proc/PID/maps lists without a file, after the
    /// kernel's merges.
    package var vmas = 0
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
        var replayer = TraceReplayer(state: self, stats: TraceStats(file: file, events: trace.events.count),
                                     taken: Set(world.mms.map(\.name)).union(threads.keys))
        for e in trace.events {
            await replayer.apply(e)
            notePeaks()
        }
        for name in Set(replayer.names.values) { if let t = threads[name] { replayer.stats.vmas += t.mm.vmas.count } }
        return replayer.stats
    }
}

/// One replay in progress: each traced pid's process name and exec count, and the ranges it
/// has mapped, anonymous (replayed) and other (only tracked).
private struct TraceReplayer {
    let state: RunState
    var stats: TraceStats
    /// Every process name of the run so far, exited ones too: a pid that the trace reuses
    /// (or that an earlier trace step used) names a new process `pidN#2`, `pidN#3`, … so
    /// that every process keeps its own key in reports (config names cannot hold `#`).
    var taken: Set<String>
    var names: [Int32: String] = [:]
    var execs: [Int32: Int] = [:]
    /// Each pid's program break as its last brk returned it (inherited across fork).
    var brk: [Int32: UInt64] = [:]
    var anon: [Int32: RangeSet] = [:]
    var other: [Int32: RangeSet] = [:]

    var world: World { state.world }

    /// The thread of `pid`'s process, which comes into being (and is counted) when first named.
    mutating func process(_ pid: Int32) -> SimThread? {
        if names[pid] == nil {
            names[pid] = newName("pid\(pid)")
            stats.processes += 1
        }
        return state.thread(names[pid]!)
    }

    /// `base`, or `base#2`, `base#3`, … if a process of the run already has that name.
    mutating func newName(_ base: String) -> String {
        var name = base
        var k = 1
        while taken.contains(name) { k += 1; name = "\(base)#\(k)" }
        taken.insert(name)
        return name
    }

    /// Calls `body(thread, address, size)` for each range in `pid`'s process, counting refusals.
    mutating func forEachRange(_ pid: Int32, _ ranges: [Range<UInt64>],
                               _ body: (SimThread, UInt64, UInt64) async throws(MMError) -> Void) async {
        for r in ranges {
            guard let t = process(pid) else { stats.failedOps += 1; return }
            do { try await body(t, r.lowerBound, r.upperBound - r.lowerBound) } catch { stats.failedOps += 1 }
        }
    }

    /// The parts of `r` that `pid` has mapped anonymously.
    func anonOverlaps(_ pid: Int32, _ r: Range<UInt64>) -> [Range<UInt64>] {
        anon[pid, default: RangeSet()].overlaps(r)
    }

    /// Replays one event of the trace.
    mutating func apply(_ e: PerfTrace.Event) async {
        let world = self.world  // for the closures: `self` is being mutated
        switch e {
        case .map(let pid, let addr, let size, let isAnon, let prot):
            await map(pid, addr..<addr + size, anon: isAnon, prot: prot)
        case .unmap(let pid, let addr, let size):
            let r = addr..<addr + size
            await forEachRange(pid, anonOverlaps(pid, r)) { t, a, n throws(MMError) in try await world.munmap(t, addr: a, size: n) }
            anon[pid, default: RangeSet()].remove(r)
            other[pid, default: RangeSet()].remove(r)
        case .protect(let pid, let addr, let size, let prot):
            await forEachRange(pid, anonOverlaps(pid, addr..<addr + size)) { t, a, n throws(MMError) in try await world.mprotect(t, addr: a, size: n, prot: prot) }
        case .advise(let pid, let addr, let size, let advice):
            await forEachRange(pid, anonOverlaps(pid, addr..<addr + size)) { t, a, n throws(MMError) in try await world.madvise(t, addr: a, size: n, advice: advice) }
        case .move(let pid, let from, let oldSize, let to, let newSize):
            await move(pid, from: from, oldSize: oldSize, to: to, newSize: newSize)
        case .brk(let pid, let to):
            await brkChange(pid, to: to)
        case .fork(let parent, let child):
            await fork(parent, child)
        case .exec(let pid):
            await exec(pid)
        case .exit(let pid):
            await exitProcess(pid)
            names[pid] = nil
            anon[pid] = nil
            other[pid] = nil
            brk[pid] = nil
            anon[pid] = nil
            other[pid] = nil
        case .fault(let pid, let addr, let write):
            await fault(pid, addr, write: write)
        }
    }

    /// A mapping appears over `r`: an anonymous one is mapped where `pid` had none, another
    /// replaces the anonymous mappings there.
    mutating func map(_ pid: Int32, _ r: Range<UInt64>, anon isAnon: Bool, prot: Prot) async {
        let world = self.world  // for the closures: `self` is being mutated
        if isAnon {
            await forEachRange(pid, anon[pid, default: RangeSet()].gaps(r)) { t, a, n throws(MMError) in try await world.mmap(t, addr: a, size: n, prot: prot, kind: .privateAnon) }
            anon[pid, default: RangeSet()].insert(r)
            other[pid, default: RangeSet()].remove(r)
        } else {
            await forEachRange(pid, anonOverlaps(pid, r)) { t, a, n throws(MMError) in try await world.munmap(t, addr: a, size: n) }
            anon[pid, default: RangeSet()].remove(r)
            other[pid, default: RangeSet()].insert(r)
        }
    }

    /// mremap: an anonymous mapping is moved, shrunk or grown in the simulated kernel; any
    /// other is only moved in the record.
    mutating func move(_ pid: Int32, from: UInt64, oldSize: UInt64, to: UInt64, newSize: UInt64) async {
        let world = self.world  // for the closures: `self` is being mutated
        let keep = min(oldSize, newSize)
        let wasAnon = anonOverlaps(pid, from..<from + oldSize) == [from..<from + oldSize]
        guard wasAnon else {
            other[pid, default: RangeSet()].remove(from..<from + oldSize)
            other[pid, default: RangeSet()].insert(to..<to + newSize)
            return
        }
        if to != from && keep > 0 {
            await forEachRange(pid, [from..<from + keep]) { t, a, n throws(MMError) in try await world.mremap(t, from: a, size: n, to: to) }
        }
        if oldSize > keep {
            await forEachRange(pid, [from + keep..<from + oldSize]) { t, a, n throws(MMError) in try await world.munmap(t, addr: a, size: n) }
        }
        if newSize > keep && keep > 0 {
            await forEachRange(pid, [to..<to + newSize]) { t, a, n throws(MMError) in
                try await world.mremapExpand(t, addr: a, oldSize: keep, newSize: n)
            }
        } else if newSize > keep {
            await forEachRange(pid, [to..<to + newSize]) { t, a, n throws(MMError) in
                try await world.mmap(t, addr: a, size: n, prot: [.read, .write], kind: .privateAnon)
            }
        }
        anon[pid, default: RangeSet()].remove(from..<from + oldSize)
        anon[pid, default: RangeSet()].insert(to..<to + newSize)
    }

    /// A brk below the last one unmaps the heap's top (`brk` → `do_vmi_align_munmap` from
    /// PAGE_ALIGN(new) to PAGE_ALIGN(old)); a growth is in the MMAP2 line of the expanded heap.
    mutating func brkChange(_ pid: Int32, to: UInt64) async {
        defer { brk[pid] = to }
        guard let old = brk[pid], to < old else { return }
        let page = Geometry.pageSize
        let lo = (to + page - 1) & ~(page - 1), hi = (old + page - 1) & ~(page - 1)
        guard lo < hi else { return }
        let world = self.world  // for the closures: `self` is being mutated
        await forEachRange(pid, anonOverlaps(pid, lo..<hi)) { t, a, n throws(MMError) in try await world.munmap(t, addr: a, size: n) }
        anon[pid, default: RangeSet()].remove(lo..<hi)
    }

    /// fork: the child process copies the parent's address space and its record.
    mutating func fork(_ parent: Int32, _ child: Int32) async {
        guard let t = process(parent) else { stats.failedOps += 1; return }
        let childName = newName("pid\(child)")
        do {
            state.threads[childName] = try await world.fork(t, childName: childName)
            names[child] = childName
            stats.processes += 1
            anon[child] = anon[parent]
            brk[child] = brk[parent]
            other[child] = other[parent]
        } catch {
            stats.failedOps += 1
        }
    }

    /// exec: `pid`'s address space goes, and its next fault or mapping names a new process.
    mutating func exec(_ pid: Int32) async {
        await exitProcess(pid)
        if names[pid] != nil {
            execs[pid, default: 0] += 1
            names[pid] = newName("pid\(pid)+\(execs[pid]!)")
            stats.processes += 1
        }
        anon[pid] = RangeSet()
        other[pid] = RangeSet()
        brk[pid] = nil
    }

    /// Tears down the address space of `pid`'s current process, if it has one.
    mutating func exitProcess(_ pid: Int32) async {
        if let name = names[pid], let t = state.threads[name] {
            stats.vmas += t.mm.vmas.count
            await world.exitMM(t)
            state.threads[name] = nil
        }
    }

    /// A fault: replayed in an anonymous mapping, else counted by where it fell.
    mutating func fault(_ pid: Int32, _ addr: UInt64, write: Bool) async {
        if anon[pid]?.contains(addr) == true {
            stats.anonFaults += 1
            guard let t = process(pid) else { return }
            _ = await world.access(t, addr, write: write, value: 1)
        } else if other[pid]?.contains(addr) == true {
            stats.fileFaults += 1
        } else {
            stats.unmappedFaults += 1
        }
    }
}
