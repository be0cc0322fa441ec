/// Containers for state that a fault touches: Swift arrays held by a class cost a bounds
/// check and two loads per read and a uniqueness check per update (callgrind: ~40
/// instructions of a fault for the PTL owner and the VMA reader counts alone), and a
/// one-element array is a heap allocation.

/// A growable array of trivial values in raw storage. Copies of the value share the
/// storage (`init(copying:)` makes an independent one); the owner frees it (`release`).
/// Indices are checked in debug builds (the tests) only; elements are not deinitialized.
struct RawArray<Element>: RandomAccessCollection {
    private var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private(set) var capacity = 0

    init() { base = .allocate(capacity: 0) }
    init(_ elements: [Element]) {
        base = .allocate(capacity: elements.count)
        base.initialize(from: elements, count: elements.count)
        count = elements.count
        capacity = elements.count
    }
    /// An independent copy of `o`'s elements.
    init(copying o: RawArray) {
        base = .allocate(capacity: o.count)
        base.initialize(from: o.base, count: o.count)
        count = o.count
        capacity = o.count
    }

    var startIndex: Int { 0 }
    var endIndex: Int { count }
    subscript(i: Int) -> Element {
        @inline(__always) unsafeAddress {
            assert(i >= 0 && i < count, "index \(i) of \(count)")
            return UnsafePointer(base + i)
        }
        @inline(__always) nonmutating unsafeMutableAddress {
            assert(i >= 0 && i < count, "index \(i) of \(count)")
            return base + i
        }
    }

    mutating func append(_ e: Element) {
        reserve(count + 1)
        (base + count).initialize(to: e)
        count += 1
    }

    /// Grows to `n` elements, the new ones `fill` (nothing when it already has `n`).
    @inline(__always) mutating func grow(to n: Int, with fill: Element) {
        if n > count { extend(to: n, with: fill) }
    }
    @inline(never) private mutating func extend(to n: Int, with fill: Element) {
        reserve(n)
        (base + count).initialize(repeating: fill, count: n - count)
        count = n
    }

    private mutating func reserve(_ n: Int) {
        guard n > capacity else { return }
        let c = Swift.max(n, 2 * capacity, 16)
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: c)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = c
    }

    func release() { base.deallocate() }
}

/// A list whose first element is stored inline. A COW fault on one page makes a one-PTE
/// plan and puts one old folio; as arrays those were two heap allocations a fault
/// (callgrind, fork of 1 Mi pages + child COW: ~300 of ~4,200 instructions).
struct SmallList<Element>: RandomAccessCollection, MutableCollection {
    private var head: Element?
    private var rest: [Element] = []

    init() {}
    init(_ element: Element) { head = element }
    init<S: Sequence>(_ elements: S) where S.Element == Element {
        for e in elements { append(e) }
    }

    var startIndex: Int { 0 }
    var endIndex: Int { head == nil ? 0 : 1 + rest.count }
    subscript(i: Int) -> Element {
        get { i == 0 ? head! : rest[i - 1] }
        set { if i == 0 { head = newValue } else { rest[i - 1] = newValue } }
    }
    mutating func append(_ e: Element) {
        if head == nil { head = e } else { rest.append(e) }
    }
}
