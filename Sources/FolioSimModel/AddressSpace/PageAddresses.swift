/// The access pattern of a `touch` op.
package enum TouchPattern: Equatable, Sendable {
    /// Every page in order, `count` times through the range (default once).
    case seq
    /// `count` pages chosen by the LCG x ← x·6364136223846793005 + 1442695040888963407 (mod
    /// 2^64), page = (x >> 33) mod pages, from x = seed: the generator of the earlier C host
    /// check wl_sparse.c; kernel-diff's helper touches the same pages (`addresses`).
    case random(seed: UInt64)
    /// Every `stride`-th page from the start, `count` pages (default: to the end).
    case stride(UInt64)
}

/// The addresses a user-space access step touches (`write`, `read`: every page in order;
/// `touch`: by pattern), one at a time. A concrete iterator: through `AnySequence` of lazy
/// sequences each address cost generic metadata lookups (callgrind: about 3,000
/// instructions, more than the fault it led to).
package struct PageAddresses: Sequence, IteratorProtocol {
    private let pattern: TouchPattern
    private let addr: UInt64
    private let pages: UInt64
    /// Addresses in all.
    private let total: Int
    /// `stride`'s step reduced modulo `pages`.
    private let step: UInt64
    private var k = 0
    /// `seq`: the page within the range; `random`: the generator's state.
    private var x: UInt64

    /// Every page of `[addr, addr + size)` once, in order.
    package init(addr: UInt64, size: UInt64) {
        self.init(.seq, addr: addr, pages: size >> Geometry.pageShift, count: nil)
    }

    package init(_ pattern: TouchPattern, addr: UInt64, pages: UInt64, count: Int?) {
        self.pattern = pattern
        self.addr = addr
        self.pages = pages
        switch pattern {
        case .seq:
            total = pages == 0 ? 0 : Int(pages) * (count ?? 1)
            step = 0
            x = 0
        case .random(let seed):
            total = pages == 0 ? 0 : count ?? 1
            step = 0
            x = seed
        case .stride(let s):
            total = pages == 0 ? 0 : count ?? Int((pages + s - 1) / s)
            step = pages == 0 ? 0 : s % pages
            x = 0
        }
    }

    @inline(__always) package mutating func next() -> UInt64? {
        guard k < total else { return nil }
        k += 1
        switch pattern {
        case .seq:
            let page = x
            x = x + 1 == pages ? 0 : x + 1
            return addr + page << Geometry.pageShift
        case .random:
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return addr + ((x >> 33) % pages) << Geometry.pageShift
        case .stride:
            // (k * stride) mod pages without overflow: both factors reduced first.
            let r = pages.dividingFullWidth((UInt64(k - 1) % pages).multipliedFullWidth(by: step)).remainder
            return addr + r << Geometry.pageShift
        }
    }
}

/// User space's side of an access step (not a kernel path: it checks what loads return).
extension World {
    /// A user-space access step's loop: `access` at each address in order until one fails,
    /// which is returned with its address (nil when all succeeded). A load of another value
    /// than `expect` is the `read-value` violation; `values`, when not nil, collects what the
    /// loads returned. One async frame for the whole step: an `access` call from another
    /// module is a task allocation per page (callgrind: ~130 instructions).
    package func accessEach(_ t: SimThread, _ addrs: PageAddresses, write: Bool, value: UInt32, expect: UInt32?,
                            values: inout [UInt32]?) async -> (addr: UInt64, result: AccessResult)? {
        var addrs = addrs
        while let a = addrs.next() {
            let r = await access(t, a, write: write, value: value)
            guard case .ok(let v) = r else { return (a, r) }
            if let e = expect, v != e { recordViolation(.readValue, t.mm, addr: a, "read \(v), expected \(e)") }
            if !write { values?.append(v) }
        }
        return nil
    }
}
