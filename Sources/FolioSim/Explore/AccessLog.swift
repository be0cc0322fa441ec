import Synchronization

/// How many worlds in this process have an `AccessLog` attached. The model's accessors test
/// this global before they look at their own `log`: a load, a test and a branch, where
/// loading `log` through `self` from an async frame takes several loads. With callgrind on
/// 65,536 THP-off faults: 1,536 instructions a fault before, 1,501 after (1,427 with no
/// logging code at all). While any exploration runs in the process (parallel tests), the
/// other worlds take the slow path and find their `log` nil.
let accessLogsAttached = Atomic<Int>(0)

/// Whether some world in the process records accesses; only then is an accessor's `log`
/// worth loading.
@inline(__always) var accessLogging: Bool { accessLogsAttached.load(ordering: .relaxed) != 0 }

/// What the steps of an explored run touched, recorded by the model's accessors while a
/// scheduler is attached (nil otherwise, so `foliosim run` pays one branch per access).
///
/// The explorer reads it after every step: the objects (with read or write) are the step's
/// footprint for partial-order reduction; the PTE slots and folios written are what the
/// per-step invariant checks look at, so a check costs time in proportion to what the step
/// changed; `useAfterFree` collects accesses to the data, flags or counts of freed frames.
public final class AccessLog {
    /// Footprint entries: `PointObject.key << 1 | write`.
    public internal(set) var objects: [UInt64] = []
    /// PTE slots written in this step.
    public internal(set) var ptesWritten: [PTESlot] = []
    /// Folios (head PFNs) whose counts, flags or data this step wrote.
    public internal(set) var foliosWritten: [PFN] = []
    /// Accesses to freed frames in this step: the page and what was done.
    public internal(set) var useAfterFree: [(PFN, String)] = []
    /// Off while the checker reads the model.
    var enabled = true

    public init() {}

    @inline(__always) func note(_ o: PointObject, write: Bool) {
        guard enabled else { return }
        objects.append(o.key << 1 | (write ? 1 : 0))
    }

    @inline(__always) func notePTE(_ s: PTESlot, write: Bool) {
        guard enabled else { return }
        objects.append(PointObject.pte(s).key << 1 | (write ? 1 : 0))
        if write { ptesWritten.append(s) }
    }

    func noteFolio(_ folio: PFN, write: Bool) {
        guard enabled else { return }
        objects.append(PointObject.folio(folio).key << 1 | (write ? 1 : 0))
        if write { foliosWritten.append(folio) }
    }

    func noteUseAfterFree(_ page: PFN, _ what: String) {
        guard enabled else { return }
        useAfterFree.append((page, what))
    }

    /// The footprint of the step that just ended. Sorts the entries in place.
    func footprint() -> Footprint {
        objects.sort()
        return Footprint(sorted: objects)
    }

    /// Starts a new step.
    func reset() {
        objects.removeAll(keepingCapacity: true)
        if !ptesWritten.isEmpty { ptesWritten.removeAll(keepingCapacity: true) }
        if !foliosWritten.isEmpty { foliosWritten.removeAll(keepingCapacity: true) }
        if !useAfterFree.isEmpty { useAfterFree.removeAll(keepingCapacity: true) }
    }
}

/// The objects one step read and wrote. Two steps are independent (they commute) when no
/// object is touched by both with at least one write; `PointObject.unknown` conflicts with
/// everything.
public struct Footprint: Sendable, Equatable {
    /// Sorted, deduplicated `key << 1 | write` entries (a written object appears once, as written).
    public let entries: [UInt64]

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

    public var isUnknown: Bool { entries.contains { $0 >> 1 == AccessKey.unknownKey } }

    /// True when the two steps touch a common object and one of them writes it.
    public func conflicts(with other: Footprint) -> Bool {
        if isUnknown || other.isUnknown { return true }
        var i = 0, j = 0
        let a = entries, b = other.entries
        while i < a.count && j < b.count {
            let ka = a[i] >> 1, kb = b[j] >> 1
            if ka == kb {
                if (a[i] | b[j]) & 1 != 0 { return true }
                i += 1; j += 1
            } else if ka < kb {
                i += 1
            } else {
                j += 1
            }
        }
        return false
    }
}
