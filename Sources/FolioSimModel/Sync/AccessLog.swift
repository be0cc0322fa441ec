import Synchronization

/// Set when a world in this process first attaches an `AccessLog`, never cleared. The
/// model's accessors test this global before they look at their own `log`: a load, a test
/// and a branch, where loading `log` through `self` from an async frame takes several loads.
/// A plain variable, not an atomic count of the attached logs: the compiler reuses its load
/// between the accessors a fault inlines, where it loaded the atomic again at each
/// (callgrind, the 1 GiB write: 69 instructions a fault). Only the thread that attaches a log
/// must see it set, and that thread wrote it; any other world takes the slow path at worst
/// (once an exploration ran in the process, as in parallel tests) and finds its `log` nil.
nonisolated(unsafe) var accessLogsEverAttached = false

/// Whether some world in the process records accesses; only then is an accessor's `log`
/// worth loading.
@inline(__always) var accessLogging: Bool { accessLogsEverAttached }

/// What the steps of an explored run touched, recorded by the model's accessors while a
/// scheduler is attached (nil otherwise, so `foliosim run` pays one branch per access).
/// Kernel paths reach shared state only through those accessors (the storage behind them is
/// private to its file), so a footprint is complete by construction.
///
/// The explorer reads it after every step: the objects (with read or write) are the step's
/// footprint for partial-order reduction; the values read feed a digest of what the step
/// observed (the commutativity audit compares it across orders); the PTE slots and frames
/// written are what the per-step invariant checks look at, so a check costs time in
/// proportion to what the step changed; `useAfterFree` collects accesses to the data, flags
/// or counts of freed frames.
package final class AccessLog {
    /// Footprint entries: `PointObject.key << 1 | write`.
    package internal(set) var objects: [UInt64] = []
    /// A digest of the objects read in this step and the values they held.
    package internal(set) var readDigest: UInt64 = 0
    /// For each entry of `objects`, in order (until `footprint()` sorts them): all that the
    /// access told the running thread, where the accessor knows it exactly (a value read,
    /// a comparison's result, a revalidation's yes or no, nothing for a blind write; the
    /// state cache's thread digest folds it), else `AccessLog.whole` (the digest folds the
    /// object's whole value).
    package internal(set) var told: [UInt64] = []
    package static let whole = UInt64.max
    /// PTE slots written in this step.
    package internal(set) var ptesWritten: [PTESlot] = []
    /// Frames whose folio or page state this step wrote (any page of the folio).
    package internal(set) var foliosWritten: [PFN] = []
    /// Accesses to freed frames in this step: the page and what was done.
    package internal(set) var useAfterFree: [(PFN, String)] = []
    /// What this step allocated, in order: frames (`start | count << 32`) and swap slots
    /// (the same, with bit 63 set); the state cache names them after the step.
    package internal(set) var allocations: [UInt64] = []
    /// Off while the at-rest checker reads the model.
    package var enabled = true
    /// While the per-step checker reads: its reads join the footprint, but reading a freed
    /// frame is not the kernel's use-after-free.
    var checking = false
    /// A kind of object (`PointObject.key >> 56`) whose accesses are not recorded: only the
    /// commutativity audit's own test sets it, to show that the audit finds what a missing
    /// record hides.
    package var forgottenKind: UInt64?

    package init() {}

    @inline(__always) package func note(_ o: PointObject, write: Bool, value: UInt64 = 0) {
        note(key: o.key, write: write, value: value)
    }

    @inline(__always) package func note(key: UInt64, write: Bool, value: UInt64 = 0, told: UInt64 = AccessLog.whole) {
        guard enabled, forgottenKind == nil || key >> 56 != forgottenKind! else { return }
        objects.append(key << 1 | (write ? 1 : 0))
        self.told.append(told)
        if !write { readDigest = (readDigest ^ key ^ (value &* 0x9E37_79B9_7F4A_7C15)) &* 0x100_0000_01B3 }
    }

    @inline(__always) func notePTE(_ s: PTESlot, write: Bool, value: UInt64, told: UInt64 = AccessLog.whole) {
        guard enabled else { return }
        note(key: PointObject.pte(s).key, write: write, value: value, told: told)
        if write && !checking { ptesWritten.append(s) }
    }

    /// A folio-wide (`folio`) or per-page (`page`) access to frame `pfn`.
    @inline(__always) func noteFrame(_ o: PointObject, _ pfn: PFN, write: Bool, value: UInt64, told: UInt64 = AccessLog.whole) {
        guard enabled else { return }
        note(key: o.key, write: write, value: value, told: told)
        if write && !checking { foliosWritten.append(pfn) }
    }

    @inline(__always) func noteAllocation(frames start: Int, count: Int) {
        guard enabled, !checking else { return }
        allocations.append(UInt64(start) | UInt64(count) << 32)
    }

    @inline(__always) func noteAllocation(slots start: Int, count: Int) {
        guard enabled, !checking else { return }
        allocations.append(UInt64(start) | UInt64(count) << 32 | 1 << 63)
    }

    /// A kernel path's access to the freed frame `page`, `use` saying what it did ("set a
    /// flag of"). The message is built here, out of line: interpolated at each inlined
    /// accessor, its string was a slot of the caller's async frame, and every resume of the
    /// access loop recomputed the addresses of six such slots (callgrind: 24 instructions a
    /// fault).
    @inline(never) func noteUseAfterFree(_ page: PFN, _ use: StaticString) {
        guard enabled, !checking else { return }
        useAfterFree.append((page, "\(use) freed \(page)"))
    }

    /// The footprint of the step that just ended. Sorts the entries in place.
    package func footprint() -> Footprint {
        objects.sort()
        return Footprint(sorted: objects)
    }

    /// Starts a new step.
    package func reset() {
        objects.removeAll(keepingCapacity: true)
        told.removeAll(keepingCapacity: true)
        readDigest = 0
        if !ptesWritten.isEmpty { ptesWritten.removeAll(keepingCapacity: true) }
        if !foliosWritten.isEmpty { foliosWritten.removeAll(keepingCapacity: true) }
        if !useAfterFree.isEmpty { useAfterFree.removeAll(keepingCapacity: true) }
        if !allocations.isEmpty { allocations.removeAll(keepingCapacity: true) }
    }
}

/// The objects one step read and wrote. Two steps are independent (they commute) when no
/// object is touched by both with at least one write; `PointObject.unknown` conflicts with
/// everything.
package struct Footprint: Sendable, Equatable {
    /// Sorted, deduplicated `key << 1 | write` entries (a written object appears once, as written).
    package let entries: [UInt64]

    /// `sorted`: entries in ascending order, possibly repeated.
    init(sorted: [UInt64]) {
        var out: [UInt64] = []
        out.reserveCapacity(sorted.count)
        for e in sorted {
            if let last = out.last, last >> 1 == e >> 1 {
                out[out.count - 1] = last | e
            } else {
                out.append(e)
            }
        }
        entries = out
    }

    /// One object.
    init(_ o: PointObject, write: Bool) { entries = [o.key << 1 | (write ? 1 : 0)] }

    package var isUnknown: Bool { entries.contains { $0 >> 1 == AccessKey.unknownKey } }

    /// True when the two steps touch a common object and one of them writes it.
    package func conflicts(with other: Footprint) -> Bool { firstConflict(with: other) != nil }

    /// The first object both touch with at least one write (nil: they commute).
    func firstConflict(with other: Footprint) -> UInt64? {
        if isUnknown || other.isUnknown { return AccessKey.unknownKey }
        var i = 0, j = 0
        let a = entries, b = other.entries
        while i < a.count && j < b.count {
            let ka = a[i] >> 1, kb = b[j] >> 1
            if ka == kb {
                if (a[i] | b[j]) & 1 != 0 { return ka }
                i += 1; j += 1
            } else if ka < kb {
                i += 1
            } else {
                j += 1
            }
        }
        return nil
    }

    /// Whether the step touches `key` (`write`: writes it).
    func touches(key: UInt64, write: Bool) -> Bool {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid] >> 1 < key { lo = mid + 1 } else { hi = mid }
        }
        guard lo < entries.count, entries[lo] >> 1 == key else { return false }
        return !write || entries[lo] & 1 != 0
    }
}
