import FolioSimModel

/// The events of an explored subtree, as the stateful DPOR's race analysis needs them: each
/// footprint entry (`key << 1 | write`) that a step of the subtree touched, or that a thread
/// was parked at, with the set of threads that did. Kept sorted by entry, so a union is a
/// merge of two sorted arrays (no hashing), which the search does at every state it leaves.
struct EventSummary: Equatable {
    private(set) var entries: [UInt64] = []
    /// Bit `t`: thread `t` had the entry's access (parallel to `entries`).
    private(set) var threads: [UInt64] = []

    init() {}

    /// The summary of `events` (`(entry, thread)` pairs, in any order, repeats allowed).
    init(_ events: [(entry: UInt64, thread: Int)]) {
        for e in events.sorted(by: { $0.entry < $1.entry }) {
            if entries.last == e.entry {
                threads[threads.count - 1] |= 1 << UInt64(e.thread)
            } else {
                entries.append(e.entry)
                threads.append(1 << UInt64(e.thread))
            }
        }
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Adds the events of `other`.
    mutating func formUnion(_ other: EventSummary) {
        if other.isEmpty { return }
        if isEmpty { self = other; return }
        if other.entries.count <= entries.count, contains(other) { return }
        var e: [UInt64] = []
        var t: [UInt64] = []
        e.reserveCapacity(entries.count + other.entries.count)
        t.reserveCapacity(entries.count + other.entries.count)
        var i = 0, j = 0
        while i < entries.count || j < other.entries.count {
            if j == other.entries.count || (i < entries.count && entries[i] < other.entries[j]) {
                e.append(entries[i]); t.append(threads[i]); i += 1
            } else if i == entries.count || other.entries[j] < entries[i] {
                e.append(other.entries[j]); t.append(other.threads[j]); j += 1
            } else {
                e.append(entries[i]); t.append(threads[i] | other.threads[j]); i += 1; j += 1
            }
        }
        entries = e
        threads = t
    }

    /// Whether every event of `other` is in this summary.
    private func contains(_ other: EventSummary) -> Bool {
        var i = 0
        for (j, k) in other.entries.enumerated() {
            while i < entries.count && entries[i] < k { i += 1 }
            if i == entries.count || entries[i] != k || other.threads[j] & ~threads[i] != 0 { return false }
        }
        return true
    }

    /// Calls `body(entry, thread)` for every event, by entry, then thread.
    func forEach(_ body: (UInt64, Int) -> Void) {
        for (i, e) in entries.enumerated() {
            var bits = threads[i]
            while bits != 0 {
                body(e, bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
    }
}
