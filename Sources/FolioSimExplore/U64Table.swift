import FolioSimModel

/// A hash table from `UInt64` keys for the explorer's per-step bookkeeping (the race
/// analysis's objects, the state hasher's object hashes): open addressing
/// with linear probing and Fibonacci hashing. Swift's `Dictionary` hashes every key with
/// SipHash; in the race analysis and the hasher that was a fifth of an exploration's time
/// (perf, scaling-3w). Iteration order is the table's, so callers that print or fold in
/// order sort the keys (`sortedKeys`).
struct U64Table<Value> {
    private var keys: [UInt64]
    private var values: [Value?]
    private(set) var count = 0
    private var shift: UInt64

    init(minimumCapacity: Int = 8) {
        var bits = 3
        while (1 << bits) < minimumCapacity * 2 { bits += 1 }
        keys = Array(repeating: 0, count: 1 << bits)
        values = Array(repeating: nil, count: 1 << bits)
        shift = UInt64(64 - bits)
    }

    @inline(__always) private func home(_ k: UInt64) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The slot holding `k`, or the empty slot where it would go.
    @inline(__always) private func find(_ k: UInt64) -> (slot: Int, found: Bool) {
        let mask = keys.count - 1
        var i = home(k)
        while values[i] != nil {
            if keys[i] == k { return (i, true) }
            i = (i + 1) & mask
        }
        return (i, false)
    }

    subscript(key: UInt64) -> Value? {
        get {
            let (i, found) = find(key)
            return found ? values[i] : nil
        }
        set {
            let (i, found) = find(key)
            if let v = newValue {
                if found { values[i] = v; return }
                keys[i] = key
                values[i] = v
                count += 1
                if count * 2 > keys.count { grow() }
            } else if found {
                remove(at: i)
            }
        }
    }

    /// Backward-shift deletion: later entries of the probe run move up, so lookups never
    /// stop at a hole.
    private mutating func remove(at slot: Int) {
        let mask = keys.count - 1
        var i = slot
        var j = slot
        values[i] = nil
        count -= 1
        while true {
            j = (j + 1) & mask
            guard values[j] != nil else { return }
            let h = home(keys[j])
            let between = i <= j ? (i < h && h <= j) : (i < h || h <= j)
            if between { continue }
            keys[i] = keys[j]
            values[i] = values[j]
            values[j] = nil
            i = j
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = Array(repeating: 0, count: oldKeys.count * 2)
        values = Array(repeating: nil, count: oldKeys.count * 2)
        shift -= 1
        count = 0
        for (k, v) in zip(oldKeys, oldValues) where v != nil { self[k] = v }
    }

    mutating func removeAll() {
        guard count > 0 else { return }
        for i in values.indices { values[i] = nil }
        count = 0
    }

    /// The keys, in ascending order.
    var sortedKeys: [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(count)
        for (k, v) in zip(keys, values) where v != nil { out.append(k) }
        out.sort()
        return out
    }
}
