/// The buddy allocator over the memmap: free lists for orders 0…`Geometry.maxOrder`.
/// It writes only free frames (the list links), which the checker never reads, so these
/// writes are not noted for it; `allocFolio` and `freeFolio` note the folio's frames.
///
/// Mirrors `__rmqueue_smallest` / `expand` (take the smallest free block of at least the
/// requested order, hand back the upper halves) and `__free_one_page` (merge with the buddy
/// while it is free and of the same order). Left out: zones, migratetypes, per-CPU lists,
/// watermarks and reclaim; an allocation simply fails when no block is large enough, so
/// fragmentation is real. Max-order blocks never used yet are not on the list but above
/// `virginNext` (PhysicalMemory.swift).
extension PhysicalMemory {
    @inline(__always) func freeListPush(_ pfn: Int, order: Int) {
        let old = freeHead[order]
        mframes[pfn] = Frame(ref: old, map: -1, flags: PageFlag.buddy | UInt32(order), data: 0)
        if old >= 0 { mframes[Int(old)].map = Int32(pfn) }
        freeHead[order] = Int32(pfn)
        freeBlocks[order] += 1
        freePages += 1 << order
    }

    @inline(__always) func freeListRemove(_ pfn: Int, order: Int) {
        let next = frames[pfn].ref, prev = frames[pfn].map
        if prev >= 0 { mframes[Int(prev)].ref = next } else { freeHead[order] = next }
        if next >= 0 { mframes[Int(next)].map = prev }
        mframes[pfn] = Frame()
        freeBlocks[order] -= 1
        freePages -= 1 << order
    }

    /// `__rmqueue_smallest` + `expand`: returns the first PFN of a block of `order`, or nil.
    func allocBlock(order: Int) -> Int? {
        guard order >= 0, order <= Geometry.maxOrder else { return nil }
        var current = order
        while current <= Geometry.maxOrder && freeHead[current] < 0 { current += 1 }
        let pfn: Int
        if current <= Geometry.maxOrder {
            pfn = Int(freeHead[current])
            freeListRemove(pfn, order: current)
        } else {
            // The next never-used max-order block: where a boot-time free list would continue.
            guard virginNext < virginEnd else { return nil }
            current = Geometry.maxOrder
            pfn = virginNext
            virginNext += 1 << Geometry.maxOrder
            freeBlocks[current] -= 1
            freePages -= 1 << current
        }
        while current > order {
            current -= 1
            freeListPush(pfn + (1 << current), order: current)
        }
        return pfn
    }

    /// `__free_one_page`: returns a block to the free lists, merging buddies.
    func freeBlock(_ start: Int, order: Int) {
        var pfn = start, order = order
        while order < Geometry.maxOrder {
            let buddy = pfn ^ (1 << order)
            guard buddy + (1 << order) <= frameCount else { break }
            let f = frames[buddy].flags
            guard f & PageFlag.buddy != 0, Int(f & PageFlag.orderMask) == order else { break }
            freeListRemove(buddy, order: order)
            pfn = min(pfn, buddy)
            order += 1
        }
        freeListPush(pfn, order: order)
    }

    /// Number of free blocks per order (index = order), as /proc/buddyinfo shows them.
    public var buddyInfo: [Int] { (0...Geometry.maxOrder).map { freeBlocks[$0] } }
}
