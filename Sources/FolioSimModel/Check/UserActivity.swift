/// What the user did to its own mappings, as the pin checks need it: a pin is bound to the
/// page table only until the user unmaps, replaces or moves the pinned address, and a user
/// may do that during a GUP call too (the kernel allows it: the pin keeps the page, the
/// mapping goes). Not kernel state: the system-call entry points (`World.munmap`, `mmap`,
/// `mremap`, `madvise`, `exitMM`, `pin`) record what the user asked for, with the clock at
/// entry and at return; the clock ticks at each.
///
/// The checks only compare the entry of one call with the return of another (or of the same
/// thread's calls); in an explored run those are ordered the same way in every interleaving
/// the reduction treats as equivalent (Execution.swift), so the checks decide alike.
package final class UserActivity {
    package enum Kind: Sendable, Equatable {
        /// The range's pages are gone (munmap, a mapping put over it, DONTNEED, exit).
        case unmap
        /// The range moved to `to` (mremap).
        case move(to: UInt64)
        /// MADV_PAGEOUT of the range (the kernel swaps out what it may).
        case pageout
    }
    package struct Change: Sendable {
        package var mm: Int
        package var start: UInt64
        package var end: UInt64
        package var kind: Kind
        package var began: Int
        package var ended: Int?
    }
    package private(set) var clock = 0
    package private(set) var changes: [Change] = []

    init() {}
    init(copying o: UserActivity) { clock = o.clock; changes = o.changes }

    /// An operation starts or ends: the clock's new value.
    @discardableResult
    func tick() -> Int {
        clock += 1
        return clock
    }
    /// A change begins now (the clock ticks); returns its index, to `end` it.
    func begin(mm: Int, _ start: UInt64, _ end: UInt64, _ kind: Kind) -> Int {
        changes.append(Change(mm: mm, start: start, end: end, kind: kind, began: tick(), ended: nil))
        return changes.count - 1
    }
    /// The change's system call returns (the clock ticks).
    func end(_ i: Int) { changes[i].ended = tick() }

    /// Where the page that a GUP call (begun at `since`, its pages held by the driver from
    /// `registered`) pinned at `addr` of `mm` is mapped now, by what the user did: moves that
    /// completed after the driver held the pin are followed; an unmap or move that was not
    /// over before the GUP began exempts the address (nil).
    func follow(mm: Int, _ addr: UInt64, since: Int, registered: Int) -> UInt64? {
        var a = addr
        for c in changes where c.mm == mm && (c.ended ?? Int.max) > since && a >= c.start && a < c.end {
            switch c.kind {
            case .pageout: continue
            case .unmap: return nil
            case .move(let to):
                guard c.ended != nil, c.began > registered else { return nil }
                a = a - c.start + to
            }
        }
        return a
    }

    /// The addresses where the page that a GUP call pinned at `addr` may be mapped now, for
    /// `checkPin`: a move that completed after the driver held the pin is followed; one that
    /// overlapped the GUP call leaves both the old and the new address possible (the call may
    /// have pinned the page before or after `move_ptes`). `userDropped`: an unmap or move that
    /// overlapped the call or came later may have taken the pinned page out of the mapping,
    /// which the kernel allows.
    func whereabouts(mm: Int, _ addr: UInt64, since: Int, registered: Int) -> (addrs: [UInt64], userDropped: Bool) {
        var addrs = [addr]
        var dropped = false
        for c in changes where c.mm == mm && (c.ended ?? Int.max) > since {
            var next: [UInt64] = []
            for a in addrs {
                guard a >= c.start && a < c.end else { next.append(a); continue }
                switch c.kind {
                case .pageout: next.append(a)
                case .unmap: dropped = true; next.append(a)
                case .move(let to):
                    if c.ended == nil || c.began <= registered { dropped = true; next.append(a) }
                    next.append(a - c.start + to)
                }
            }
            addrs = next
        }
        return (addrs, dropped)
    }

    /// Whether a MADV_PAGEOUT of `addr` in `mm` began after `registered` (then reclaim saw
    /// the pin).
    func pagedOutAfter(mm: Int, _ addr: UInt64, registered: Int) -> Bool {
        changes.contains { c in
            if case .pageout = c.kind { return c.mm == mm && c.began > registered && addr >= c.start && addr < c.end }
            return false
        }
    }
}
