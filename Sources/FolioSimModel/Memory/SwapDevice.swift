/// A swap device: slots holding a page's data word, the swap count of each slot
/// (`swap_map`) and the swapcache folio that currently caches it.
///
/// Slot 0 is never handed out (the kernel keeps the swap header there). Left out: clusters,
/// readahead, continuation pages, zswap and writeback timing: a page written to swap is
/// written at once.
///
/// While an explorer runs, every use of a slot's data, count or swapcache entry records that
/// slot (`PointObject.swapSlot`) in the step's footprint, so a swap-in's lockless swapcache
/// lookup conflicts with the swap-out or free that changes the entry; a folio's slot
/// (`folio->swap`) is part of the folio (`PointObject.folio`); the slot search and usage count
/// are the device's allocator (`PointObject.swapAllocator`).
package final class SwapDevice {
    package let slotCount: Int
    private let slotData: UnsafeMutablePointer<UInt32>
    private let swapCount: UnsafeMutablePointer<Int32>
    private let swapCache: UnsafeMutablePointer<UInt32>
    private var folioSlot: [UInt32: Int] = [:]
    /// While the checker tracks changes: the slots written since the last check, with their
    /// (count, swapcache page, data) at that check.
    private(set) var slotsAtLastCheck: [Int: SlotState]?
    struct SlotState: Equatable {
        var count: Int32
        var cache: UInt32
        var data: UInt32
    }
    private var nextSearch = 1
    private var used = 0
    /// Set through `World.log` while an explorer runs.
    var log: AccessLog?

    init(slots: Int) {
        slotCount = max(slots, 0)
        slotData = .allocate(capacity: max(slotCount, 1))
        slotData.initialize(repeating: 0, count: max(slotCount, 1))
        swapCount = .allocate(capacity: max(slotCount, 1))
        swapCount.initialize(repeating: 0, count: max(slotCount, 1))
        swapCache = .allocate(capacity: max(slotCount, 1))
        swapCache.initialize(repeating: 0, count: max(slotCount, 1))
    }

    deinit {
        slotData.deallocate()
        swapCount.deallocate()
        swapCache.deallocate()
    }

    /// A copy (the explorer's snapshot); no log attached.
    init(copying o: SwapDevice) {
        slotCount = o.slotCount
        slotData = .allocate(capacity: max(slotCount, 1))
        slotData.initialize(from: o.slotData, count: max(slotCount, 1))
        swapCount = .allocate(capacity: max(slotCount, 1))
        swapCount.initialize(from: o.swapCount, count: max(slotCount, 1))
        swapCache = .allocate(capacity: max(slotCount, 1))
        swapCache.initialize(from: o.swapCache, count: max(slotCount, 1))
        folioSlot = o.folioSlot
        nextSearch = o.nextSearch
        used = o.used
    }

    @inline(__always) private func note(_ o: PointObject, write: Bool, value: UInt64) {
        if _slowPath(accessLogging), let l = log { l.note(o, write: write, value: value) }
    }

    /// One column of the slot table, indexed by slot; a write is noted for the checker.
    package struct Column<T: BinaryInteger> {
        fileprivate let base: UnsafeMutablePointer<T>
        fileprivate unowned let device: SwapDevice
        package internal(set) subscript(slot: Int) -> T {
            get {
                let v = base[slot]
                device.note(.swapSlot(slot), write: false, value: UInt64(truncatingIfNeeded: v))
                return v
            }
            nonmutating set {
                device.note(.swapSlot(slot), write: true, value: 0)
                device.willWrite(slot)
                base[slot] = newValue
            }
        }
    }

    /// Data word of each slot.
    var data: Column<UInt32> { Column(base: slotData, device: self) }
    /// Swap count: how many swap PTEs refer to the slot (plus 0 for the swapcache).
    package var count: Column<Int32> { Column(base: swapCount, device: self) }
    /// The swapcache folio's page for the slot (0 = not cached).
    var cache: Column<UInt32> { Column(base: swapCache, device: self) }

    @inline(__always) private func willWrite(_ slot: Int) {
        guard slotsAtLastCheck != nil, slotsAtLastCheck![slot] == nil else { return }
        slotsAtLastCheck![slot] = state(slot)
    }
    func state(_ slot: Int) -> SlotState { SlotState(count: swapCount[slot], cache: swapCache[slot], data: slotData[slot]) }

    /// After an invariant check: every slot counts as unchanged; with `tracking`, writes
    /// from now on are noted.
    func checked(tracking: Bool) {
        slotsAtLastCheck = tracking ? [:] : nil
    }
    /// `folio->swap`: the first slot of a swapcache folio (by head PFN), nil if none.
    func slot(of folio: PFN) -> Int? {
        let s = folioSlot[folio.raw]
        note(.folio(folio), write: false, value: UInt64(s ?? -1))
        return s
    }
    func setSlot(of folio: PFN, _ slot: Int?) {
        note(.folio(folio), write: true, value: 0)
        folioSlot[folio.raw] = slot
    }
    /// `folio->swap` as the checker reads it (unlogged).
    func peekSlot(of folio: PFN) -> Int? { folioSlot[folio.raw] }

    /// Slots in use (with a swap count or a swapcache entry).
    package var usedSlots: Int {
        note(.swapAllocator, write: false, value: UInt64(used))
        return used
    }
    package var peekUsedSlots: Int { used }

    var footprintBytes: Int { slotCount * 12 }

    /// `folio_alloc_swap`: `nr` free slots, naturally aligned to `nr`, entered in the swapcache
    /// for the folio at `pfn` (SWAP_HAS_CACHE, swap count 0). Nil when the device has none.
    func allocate(_ nr: Int, for pfn: PFN) -> Int? {
        note(.swapAllocator, write: true, value: 0)
        guard slotCount > nr else { return nil }
        var start = max(1, (nextSearch + nr - 1) / nr * nr)
        var wrapped = false
        while true {
            if start + nr > slotCount {
                if wrapped { return nil }
                wrapped = true
                start = nr
                continue
            }
            if (start..<start + nr).allSatisfy({ count[$0] == 0 && cache[$0] == 0 }) {
                for s in start..<start + nr { cache[s] = pfn.raw + UInt32(s - start) }
                setSlot(of: pfn, start)
                if _slowPath(accessLogging), let l = log { l.noteAllocation(slots: start, count: nr) }
                used += nr
                nextSearch = start + nr
                return start
            }
            start += nr
        }
    }

    /// Drops one swap count; frees the slot when nothing refers to it.
    func put(_ slot: Int) {
        count[slot] -= 1
        if count[slot] == 0 && cache[slot] == 0 { slotFreed(slot) }
    }

    /// Removes the swapcache entry of `slot`; frees the slot when no swap PTE refers to it.
    func dropCache(_ slot: Int) {
        cache[slot] = 0
        if count[slot] == 0 { slotFreed(slot) }
    }

    private func slotFreed(_ slot: Int) {
        note(.swapAllocator, write: true, value: 0)
        used -= 1
        data[slot] = 0
    }

    /// `vm_swap_full`: more than half of the slots are in use.
    var isHalfFull: Bool { usedSlots * 2 > slotCount }

    func isFree(_ slot: Int) -> Bool { count[slot] == 0 && cache[slot] == 0 }
}
