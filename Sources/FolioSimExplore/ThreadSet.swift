import FolioSimModel

/// A set of thread indices of one explored config (at most 16 threads) as a bit mask, so
/// the explorer's per-step bookkeeping (runnable threads, sleep sets, explored alternatives)
/// allocates nothing. Iterates in ascending index order, the order of `threads` in the config.
struct ThreadSet: Sequence, Equatable {
    var bits: UInt32 = 0

    init() {}
    init(bits: UInt32) { self.bits = bits }

    var isEmpty: Bool { bits == 0 }
    var count: Int { bits.nonzeroBitCount }
    var first: Int? { bits == 0 ? nil : bits.trailingZeroBitCount }

    func contains(_ i: Int) -> Bool { i >= 0 && bits >> UInt32(i) & 1 != 0 }
    mutating func insert(_ i: Int) { bits |= 1 << UInt32(i) }
    mutating func remove(_ i: Int) { bits &= ~(1 << UInt32(i)) }
    func union(_ o: ThreadSet) -> ThreadSet { ThreadSet(bits: bits | o.bits) }
    func subtracting(_ o: ThreadSet) -> ThreadSet { ThreadSet(bits: bits & ~o.bits) }

    /// The `k`-th member in ascending order.
    func member(at k: Int) -> Int {
        var b = bits
        for _ in 0..<k { b &= b - 1 }
        return b.trailingZeroBitCount
    }

    struct Iterator: IteratorProtocol {
        var rest: UInt32
        mutating func next() -> Int? {
            guard rest != 0 else { return nil }
            let i = rest.trailingZeroBitCount
            rest &= rest - 1
            return i
        }
    }
    func makeIterator() -> Iterator { Iterator(rest: bits) }
}
