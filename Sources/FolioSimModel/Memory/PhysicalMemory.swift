import Foundation

/// Simulated physical memory: a flat memmap of `Frame` records indexed by PFN, the buddy
/// allocator's free lists, the side table of large-folio state, the shared zero page and the
/// huge zero folio.
///
/// The memmap is one zero-filled buffer whose pages the host backs on first touch, so frames
/// that were never used cost (almost) nothing and a 1 TiB machine fits. Max-order blocks that were never allocated stay off the free list,
/// above `virginNext`, and are handed out in ascending order once the list is empty: exactly
/// the order in which a list holding them from boot would hand them out.
package final class PhysicalMemory {
    package let frameCount: Int
    /// The memmap as instrumentation reads it (the checker, reports): unlogged. Kernel paths
    /// use the accessors below and in Folio.swift, which record every access in the running
    /// step's footprint and note writes for the incremental checker; the writable memmap is
    /// private to this file (a test checks that kernel paths never read `frames`).
    package let frames: UnsafePointer<Frame>
    private let mframes: UnsafeMutablePointer<Frame>
    /// Whether writes are noted for the incremental checker.
    private(set) var tracksChanges = false
    /// One bit per frame written since the last check (zero-filled memory the host backs
    /// only where written).
    let changedBits: UnsafeMutablePointer<UInt64>
    /// The frames that belonged to a folio when first written since the last check, with
    /// their state at that check, in the order written.
    var framesAtLastCheck: [(pfn: UInt32, frame: Frame)] = []
    /// Set when a step changed more frames in use than `changeBudget` (an eighth of the used
    /// frames, at least 65536): noting stops, and the next check is a full one.
    private(set) var changesOverflowed = false
    private var changeBudget = 0
    /// The frame noted last: a fault writes the same frame several times in a row.
    private var lastNoted = -1
    /// Free-list heads and block counts per order.
    let freeHead: UnsafeMutablePointer<Int32>
    let freeBlocks: UnsafeMutablePointer<Int>
    package internal(set) var freePages: Int = 0
    /// Never-allocated max-order blocks: `[virginNext, virginEnd)`, all free, all frames zero.
    var virginNext: Int
    let virginEnd: Int
    private var large: [LargeFolioMeta] = []
    private var largeFree: [Int32] = []
    /// PFN of the shared zero page (`zero_pfn`), reserved at boot.
    package let zeroPFN: PFN
    /// Head PFN of the huge zero folio once allocated (`huge_zero_folio`), allocated on first use.
    package internal(set) var hugeZeroPFN: PFN?
    /// Set while an explorer runs: records what each step touches (see `AccessLog`). Set
    /// through `World.log`, which counts the attached logs.
    package internal(set) var log: AccessLog?
    /// Number of folios allocated per order (gauge), indexed by order.
    let folioCounts: UnsafeMutablePointer<Int>
    package var allocatedFolios: [Int] { (0...Geometry.maxOrder).map { folioCounts[$0] } }

    /// A zero-filled memmap of `count` frames. `calloc` maps a large one straight from the
    /// host, which backs its pages only when they are touched; a small one (the explorer's
    /// per-run copies) comes from the heap without a system call.
    private static func reserveFrames(_ count: Int) -> UnsafeMutablePointer<Frame> {
        guard let p = calloc(count, MemoryLayout<Frame>.stride) else {
            fatalError("cannot reserve \(count * MemoryLayout<Frame>.stride) bytes for the memmap")
        }
        return p.bindMemory(to: Frame.self, capacity: count)
    }

    private static func reserveBits(_ count: Int) -> UnsafeMutablePointer<UInt64> {
        guard let p = calloc((count + 63) / 64, 8) else { fatalError("cannot reserve the change bitmap") }
        return p.bindMemory(to: UInt64.self, capacity: (count + 63) / 64)
    }

    /// Creates memory of `bytes` (a multiple of the page size); PFN 0 becomes the zero page.
    package init(bytes: UInt64) {
        let count = Int(bytes / Geometry.pageSize)
        precondition(count >= 2, "memory must hold at least two pages")
        frameCount = count
        mframes = Self.reserveFrames(count)
        frames = UnsafePointer(mframes)
        changedBits = Self.reserveBits(count)
        freeHead = .allocate(capacity: Geometry.maxOrder + 1)
        freeHead.initialize(repeating: -1, count: Geometry.maxOrder + 1)
        freeBlocks = .allocate(capacity: Geometry.maxOrder + 1)
        freeBlocks.initialize(repeating: 0, count: Geometry.maxOrder + 1)
        folioCounts = .allocate(capacity: Geometry.maxOrder + 1)
        folioCounts.initialize(repeating: 0, count: Geometry.maxOrder + 1)
        zeroPFN = PFN(0)
        mframes[0] = Frame(ref: 1, map: 0,
                          flags: PageFlag.allocated | PageFlag.head | PageFlag.zero | PageFlag.reserved | PageFlag.uptodate)
        // Free the rest in naturally aligned blocks. The max-order blocks stay virgin; the
        // smaller ones below the first and above the last are pushed highest first, so that
        // the free lists hand out low PFNs first.
        let maxBlock = 1 << Geometry.maxOrder
        let firstFull = min(maxBlock, count)
        let lastFullEnd = max(firstFull, count / maxBlock * maxBlock)
        virginNext = firstFull
        virginEnd = lastFullEnd
        let nVirgin = (lastFullEnd - firstFull) / maxBlock
        freeBlocks[Geometry.maxOrder] = nVirgin
        freePages = nVirgin * maxBlock
        var blocks: [(Int, Int)] = []
        for (from, to) in [(1, firstFull), (lastFullEnd, count)] {
            var pfn = from
            while pfn < to {
                var order = Geometry.maxOrder
                while order > 0 && (pfn & ((1 << order) - 1) != 0 || pfn + (1 << order) > to) { order -= 1 }
                blocks.append((pfn, order))
                pfn += 1 << order
            }
        }
        for (start, order) in blocks.reversed() { freeListPush(start, order: order) }
    }

    /// A deep copy: the explorer's snapshot of the world after a config's `steps`. Only frames
    /// that were ever used are copied.
    init(copying o: PhysicalMemory) {
        frameCount = o.frameCount
        mframes = Self.reserveFrames(o.frameCount)
        frames = UnsafePointer(mframes)
        changedBits = Self.reserveBits(o.frameCount)
        for r in o.usedFrameRanges { (mframes + r.lowerBound).update(from: o.frames + r.lowerBound, count: r.count) }
        freeHead = .allocate(capacity: Geometry.maxOrder + 1)
        freeHead.initialize(from: o.freeHead, count: Geometry.maxOrder + 1)
        freeBlocks = .allocate(capacity: Geometry.maxOrder + 1)
        freeBlocks.initialize(from: o.freeBlocks, count: Geometry.maxOrder + 1)
        folioCounts = .allocate(capacity: Geometry.maxOrder + 1)
        folioCounts.initialize(from: o.folioCounts, count: Geometry.maxOrder + 1)
        freePages = o.freePages
        virginNext = o.virginNext
        virginEnd = o.virginEnd
        large = o.large
        largeFree = o.largeFree
        zeroPFN = o.zeroPFN
        hugeZeroPFN = o.hugeZeroPFN
    }

    deinit {
        free(mframes)
        free(changedBits)
        freeHead.deallocate()
        freeBlocks.deallocate()
        folioCounts.deallocate()
    }

    /// The frames that may hold anything but zeros: below the virgin blocks and above them.
    /// Scans of the memmap (the checker, the reports) walk only these.
    package var usedFrameRanges: [Range<Int>] {
        virginEnd < frameCount ? [0..<virginNext, virginEnd..<frameCount] : [0..<virginNext]
    }

    /// Frames ever used (what the memmap costs in host memory).
    package var usedFrameCount: Int { usedFrameRanges.reduce(0) { $0 + $1.count } }

    package var totalPages: Int { frameCount }
    package var usedPages: Int { frameCount - freePages }
}

/// Change tracking for the incremental checker (Check/Checker.swift): which frames were
/// written since the last check, and what those that were in use held then.
extension PhysicalMemory {
    /// A frame for writing: the write is noted first. Private: every kernel-path write goes
    /// through an accessor that also records it in the footprint.
    @inline(__always) private func writeFrame(_ pfn: Int) -> UnsafeMutablePointer<Frame> {
        willWrite(pfn)
        return mframes + pfn
    }

    /// Kept to a load and a branch where inlined: a larger check in every frame write made
    /// the optimizer stop inlining the fault path's async helpers.
    @inline(__always) func willWrite(_ pfn: Int) {
        if _slowPath(tracksChanges) && pfn != lastNoted { noteWrite(pfn) }
    }
    @inline(never) private func noteWrite(_ pfn: Int) {
        lastNoted = pfn
        let bit = UInt64(1) << UInt64(pfn & 63)
        guard changedBits[pfn >> 6] & bit == 0 else { return }
        changedBits[pfn >> 6] |= bit
        guard frames[pfn].flags & PageFlag.allocated != 0 else { return }
        guard framesAtLastCheck.count < changeBudget else {
            tracksChanges = false
            changesOverflowed = true
            framesAtLastCheck = []
            return
        }
        framesAtLastCheck.append((UInt32(pfn), frames[pfn]))
    }
    /// The frames of a block the allocator just took off the free lists. Such a frame was
    /// free at the last check, or its bit is set already: anything that freed it since noted
    /// it (`freeFolio`), and `noteWrite` records no state for a free frame. So only the bits
    /// are set, without `noteWrite`'s call and tests (callgrind: 33 instructions a fault). An
    /// order-0 block, the fault path's, skips the range loop and its overflow checks (12).
    @inline(__always) func willAllocate(_ start: Int, count: Int) {
        guard _slowPath(tracksChanges) else { return }
        if count == 1 {
            markChanged(start)
        } else {
            for pfn in start..<start + count { markChanged(pfn) }
        }
        lastNoted = start
    }
    @inline(__always) func willWrite(_ start: Int, count: Int) {
        if _slowPath(tracksChanges) {
            if count == 1 { willWrite(start) } else { noteWrites(start, count) }
        }
    }
    @inline(never) private func noteWrites(_ start: Int, _ count: Int) {
        for pfn in start..<start + count { willWrite(pfn) }
    }

    /// Whether `pfn` was written since the last check (or marked by the checker).
    @inline(__always) func isChanged(_ pfn: Int) -> Bool {
        guard tracksChanges else { return true }
        return changedBits[pfn >> 6] & (UInt64(1) << UInt64(pfn & 63)) != 0
    }

    /// Marks a frame for the checker's folio pass without recording its state.
    @inline(__always) func markChanged(_ pfn: Int) {
        guard tracksChanges, pfn < frameCount else { return }
        changedBits[pfn >> 6] |= UInt64(1) << UInt64(pfn & 63)
    }

    /// Takes a frame off the checker's folio pass: the checker settled it (`checkPTE`).
    @inline(__always) func clearChanged(_ pfn: Int) {
        guard tracksChanges else { return }
        changedBits[pfn >> 6] &= ~(UInt64(1) << UInt64(pfn & 63))
    }

    /// The changed frames in ascending order, clearing their bits; nil when not tracking.
    @inline(__always) func takeChangedFrames(_ body: (Int) -> Void) {
        guard tracksChanges else { return }
        let bits = changedBits
        for r in usedFrameRanges {
            var w = r.lowerBound >> 6
            let end = (r.upperBound + 63) >> 6
            while w < end {
                var word = bits[w]
                if word != 0 {
                    bits[w] = 0
                    while word != 0 {
                        let b = word.trailingZeroBitCount
                        word &= word - 1
                        body(w << 6 | b)
                    }
                }
                w += 1
            }
        }
    }

    /// After an incremental check, whose pass over the changed frames cleared their bits:
    /// every frame counts as unchanged again.
    func changesChecked() {
        framesAtLastCheck = []
        lastNoted = -1
    }

    /// Starts (or stops) tracking, with every frame counted unchanged.
    func checked(tracking: Bool) {
        framesAtLastCheck = []
        if tracksChanges || changesOverflowed {
            for r in usedFrameRanges {
                let w0 = r.lowerBound >> 6, w1 = (r.upperBound + 63) >> 6
                (changedBits + w0).update(repeating: 0, count: w1 - w0)
            }
        }
        tracksChanges = tracking
        lastNoted = -1
        changesOverflowed = false
        changeBudget = max(1 << 16, usedFrameCount / 8)
    }
}


// MARK: the buddy allocator

/// The buddy allocator over the memmap (in this file because it writes free frames, which
/// only the allocator reaches: its accesses are the `allocator` object of a footprint): free lists for orders 0…`Geometry.maxOrder`.
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
    @inline(__always) func allocBlock(order: Int) -> Int? {
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
    package var buddyInfo: [Int] { (0...Geometry.maxOrder).map { freeBlocks[$0] } }
}

// MARK: accessors

/// The accessors kernel paths use. Each records what it touches in the running step's
/// footprint (`log`, set while an explorer runs): a frame's own state is the object
/// `page(pfn)`; a folio's counts and flags are `folio(head)`; the folio lock bit is
/// `folioLock(head)`. Reading the data, flags or counts of a freed frame is recorded as a
/// use-after-free (reading a refcount is not: GUP-fast's `folio_try_get` does it on purpose).
extension PhysicalMemory {
    /// Folio-wide flags: everything but the frame's own bits and the lock bit.
    private static let pageBits = PageFlag.anonExclusive | PageFlag.allocated | PageFlag.head | PageFlag.buddy | PageFlag.orderMask
    private static let folioBits = ~(pageBits | PageFlag.locked)

    /// `value`: what a read returns; `told`: all the access tells the caller (a read: its
    /// value; a blind write: nothing, 0; a read-modify-write: its result), or
    /// `AccessLog.whole` when the accessor cannot say.
    ///
    /// Each of the three is a test of `accessLogging` inlined into the accessor and the
    /// recording out of line: inlined whole, the recording made every accessor large
    /// enough that the optimizer kept some of them out of line on the fault path.
    @inline(__always) private func logPage(_ pfn: Int, write: Bool, value: UInt64, told: UInt64? = nil, use: StaticString?) {
        if _slowPath(accessLogging) { recordFrame(pfn, folio: false, write: write, value: value, told: told, use: use) }
    }
    @inline(__always) private func logFolio(_ pfn: Int, write: Bool, value: UInt64, told: UInt64? = nil, use: StaticString?) {
        if _slowPath(accessLogging) { recordFrame(pfn, folio: true, write: write, value: value, told: told, use: use) }
    }
    /// A flag access: each kind of bit in `mask` is its own object.
    @inline(__always) private func logFlags(_ pfn: Int, _ mask: UInt32, write: Bool, use: StaticString) {
        if _slowPath(accessLogging) { recordFlags(pfn, mask, write: write, use: use) }
    }
    /// The access to frame `pfn`'s own state (`page`) or its folio's (`folio`). A flag, not
    /// the `PointObject`: an enum argument took a slot of each caller's async frame.
    @inline(never) private func recordFrame(_ pfn: Int, folio: Bool, write: Bool, value: UInt64, told: UInt64?, use: StaticString?) {
        guard let l = log, l.enabled, pfn < frameCount else { return }
        if let use, frames[pfn].flags & PageFlag.allocated == 0 { l.noteUseAfterFree(PFN(pfn), use) }
        l.noteFrame(folio ? .folio(PFN(pfn)) : .page(PFN(pfn)), PFN(pfn), write: write, value: value, told: told ?? (write ? 0 : value))
    }
    @inline(never) private func recordFlags(_ pfn: Int, _ mask: UInt32, write: Bool, use: StaticString) {
        guard let l = log, l.enabled, pfn < frameCount else { return }
        let v = UInt64(frames[pfn].flags & mask)
        if mask & Self.pageBits != 0 { recordFrame(pfn, folio: false, write: write, value: v, told: nil, use: use) }
        if mask & Self.folioBits != 0 { recordFrame(pfn, folio: true, write: write, value: v, told: nil, use: use) }
        if mask & PageFlag.locked != 0 { l.note(.folioLock(PFN(pfn)), write: write, value: v) }
    }

    // MARK: which folio a page belongs to

    /// The order of the folio whose head is `folio`.
    @inline(__always) package func order(of folio: PFN) -> Int {
        logPage(folio.index, write: false, value: UInt64(frames[folio.index].flags & PageFlag.orderMask), use: nil)
        return Int(frames[folio.index].flags & PageFlag.orderMask)
    }
    @inline(__always) package func nrPages(_ folio: PFN) -> Int { 1 << order(of: folio) }
    @inline(__always) package func isLarge(_ folio: PFN) -> Bool { order(of: folio) != 0 }
    /// `page_folio`: folios are naturally aligned, so the head is the PFN rounded down to the
    /// order every frame of the folio stores.
    @inline(__always) package func folio(of page: PFN) -> PFN {
        logPage(page.index, write: false, value: UInt64(frames[page.index].flags & PageFlag.orderMask), use: nil)
        return peekFolio(of: page)
    }
    @inline(__always) package func isAllocated(_ page: PFN) -> Bool {
        guard page.index < frameCount else { return false }
        logPage(page.index, write: false, value: UInt64(frames[page.index].flags & PageFlag.allocated), use: nil)
        return frames[page.index].flags & PageFlag.allocated != 0
    }

    // MARK: flags

    @inline(__always) package func test(_ page: PFN, _ flag: UInt32) -> Bool {
        logFlags(page.index, flag, write: false, use: "read the flags of")
        return frames[page.index].flags & flag != 0
    }
    @inline(__always) package func set(_ page: PFN, _ flag: UInt32) {
        logFlags(page.index, flag, write: true, use: "set a flag of")
        writeFrame(page.index).pointee.flags |= flag
    }
    @inline(__always) package func clear(_ page: PFN, _ flag: UInt32) {
        logFlags(page.index, flag, write: true, use: "clear a flag of")
        writeFrame(page.index).pointee.flags &= ~flag
    }

    // MARK: counts and data

    /// `folio_ref_count`. Reading a freed frame's count is allowed (GUP-fast's
    /// `try_get_folio` does it speculatively), so it is not a use-after-free.
    @inline(__always) package func refcount(_ folio: PFN) -> Int32 {
        logFolio(folio.index, write: false, value: UInt64(UInt32(bitPattern: frames[folio.index].ref)), use: nil)
        return frames[folio.index].ref
    }
    /// `folio_ref_count(folio) <cmp> n` for a kernel path, which only ever compares the count:
    /// the comparison's result is all the access tells the thread (and all the state cache's
    /// digest folds), so threads that read 2 and 3 and both decide "copy" stay one state.
    @inline(__always) package func refcountIs(_ folio: PFN, _ cmp: (Int32, Int32) -> Bool, _ n: Int32) -> Bool {
        let r = cmp(frames[folio.index].ref, n)
        logFolio(folio.index, write: false, value: UInt64(UInt32(bitPattern: frames[folio.index].ref)), told: r ? 1 : 2, use: nil)
        return r
    }
    /// Adds `n` (possibly negative) to the refcount; returns whether it reached zero, all that
    /// `folio_put_testzero` tells its caller (and all the state cache's digest folds).
    @discardableResult
    @inline(__always) func addRef(_ folio: PFN, _ n: Int32, _ what: StaticString) -> Bool {
        let zero = frames[folio.index].ref &+ n == 0
        logFolio(folio.index, write: true, value: 0, told: zero ? 1 : 2, use: what)
        writeFrame(folio.index).pointee.ref &+= n
        return zero
    }
    /// Per-page mapcount (`page_mapcount` without the entire mapcount).
    @inline(__always) package func pageMapcount(_ page: PFN) -> Int32 {
        logPage(page.index, write: false, value: UInt64(UInt32(bitPattern: frames[page.index].map)), use: "read the mapcount of")
        return frames[page.index].map
    }
    /// Adds `d` to a page's mapcount; returns the new mapcount clamped to -1...2: the rmap
    /// code only asks whether it went negative, to zero (last mapping) or to one (first), as
    /// `atomic_inc_and_test`/`atomic_add_negative` tell the kernel. The clamp is all the state
    /// cache's digest folds, so no caller can learn more than the digest knows.
    @discardableResult
    @inline(__always) func addMapcount(_ page: PFN, _ d: Int32) -> Int32 {
        let after = min(max(frames[page.index].map &+ d, -1), 2)
        logPage(page.index, write: true, value: 0, told: UInt64(UInt32(bitPattern: after)), use: "changed the mapcount of")
        writeFrame(page.index).pointee.map &+= d
        return after
    }
    @inline(__always) func setMapcount(_ page: PFN, _ v: Int32) {
        logPage(page.index, write: true, value: 0, use: "set the mapcount of")
        writeFrame(page.index).pointee.map = v
    }
    @inline(__always) package func data(_ page: PFN) -> UInt32 {
        logPage(page.index, write: false, value: UInt64(frames[page.index].data), use: "read the data of")
        return frames[page.index].data
    }
    @inline(__always) package func setData(_ page: PFN, _ value: UInt32) {
        logPage(page.index, write: true, value: 0, use: "wrote the data of")
        writeFrame(page.index).pointee.data = value
    }

    @inline(__always) private func metaIndex(_ folio: PFN) -> Int { Int(frames[folio.index + 1].ref) }
    /// The large-folio fields; only valid for a large folio.
    @inline(__always) package func meta(_ folio: PFN) -> LargeFolioMeta {
        let m = large[metaIndex(folio)]
        logFolio(folio.index, write: false, value: UInt64(UInt32(bitPattern: m.largeMapcount)) | UInt64(UInt32(bitPattern: m.pincount)) << 32,
                 told: AccessLog.whole,
                 use: "read the large-folio counts of")
        return m
    }
    @inline(__always) func withMeta<R>(_ folio: PFN, _ body: (inout LargeFolioMeta) -> R) -> R {
        logFolio(folio.index, write: true, value: 0, told: AccessLog.whole, use: "changed the large-folio counts of")
        willWrite(folio.index)
        return body(&large[metaIndex(folio)])
    }

    // MARK: allocation

    /// Allocates and initialises a folio of `order` (`folio_alloc` + zeroing): `ref = 1`, no
    /// mappings, every data word 0. Returns nil when the buddy allocator has no block.
    package func allocFolio(order: Int) -> PFN? {
        if _slowPath(accessLogging), let l = log { l.note(.allocator, write: true) }
        guard let start = allocBlock(order: order) else { return nil }
        let flagsTail = PageFlag.allocated | UInt32(order)
        let nr = 1 << order
        if _slowPath(accessLogging), let l = log { l.noteAllocation(frames: start, count: nr) }
        willAllocate(start, count: nr)
        logNewFrames(start, nr)
        mframes[start] = Frame(ref: 1, map: 0, flags: flagsTail | PageFlag.head, data: 0)
        if nr > 1 {
            (mframes + start + 1).update(repeating: Frame(ref: 0, map: 0, flags: flagsTail, data: 0), count: nr - 1)
            let idx: Int
            if let reused = largeFree.popLast() {
                idx = Int(reused)
                large[idx] = LargeFolioMeta()
            } else {
                idx = large.count
                large.append(LargeFolioMeta())
            }
            large[idx].inUse = true
            mframes[start + 1].ref = Int32(idx)
        }
        folioCounts[order] += 1
        return PFN(start)
    }

    /// The frames of a folio being created, split or freed: every page and the folio.
    @inline(__always) private func logNewFrames(_ start: Int, _ nr: Int) {
        guard _slowPath(accessLogging), let l = log, l.enabled else { return }
        l.noteFrame(.folio(PFN(start)), PFN(start), write: true, value: 0, told: 0)
        for p in start..<start + nr { l.noteFrame(.page(PFN(p)), PFN(p), write: true, value: 0, told: 0) }
    }

    /// Frees a folio whose refcount reached zero (`free_unref_folios` / `__free_pages`):
    /// clears every flag, including PageAnonExclusive, and returns its block to the buddy.
    package func freeFolio(_ folio: PFN) {
        if _slowPath(accessLogging), let l = log { l.note(.allocator, write: true) }
        let o = Int(frames[folio.index].flags & PageFlag.orderMask)
        logNewFrames(folio.index, 1 << o)
        if o > 0 {
            let idx = metaIndex(folio)
            large[idx].inUse = false
            largeFree.append(Int32(idx))
        }
        willWrite(folio.index, count: 1 << o)
        (mframes + folio.index).update(repeating: Frame(), count: 1 << o)
        folioCounts[o] -= 1
        freeBlock(folio.index, order: o)
    }

    /// `folio_put` / `folio_put_refs`. Returns true when the folio was freed. Reserved pages
    /// (the zero page, the huge zero folio) are never freed.
    @discardableResult
    package func folioPut(_ folio: PFN, _ n: Int32 = 1) -> Bool {
        guard addRef(folio, -n, "folio_put on"), !test(folio, PageFlag.reserved) else { return false }
        freeFolio(folio)
        return true
    }

    /// `folio_get` / `folio_ref_add`.
    @inline(__always) package func folioGet(_ folio: PFN, _ n: Int32 = 1) { addRef(folio, n, "folio_get on") }

    /// `mm_get_huge_zero_folio`: allocates the huge zero folio on first use; nil if that fails.
    package func hugeZeroFolio() -> PFN? {
        if let h = hugeZeroPFN { return h }
        guard let h = allocFolio(order: Geometry.pmdOrder) else { return nil }
        set(h, PageFlag.zero | PageFlag.reserved | PageFlag.uptodate)
        hugeZeroPFN = h
        return h
    }

    /// The memmap side of `__split_huge_page` to order 0, for a frozen folio (the caller
    /// checked `can_split_folio`): every page becomes an order-0 folio that keeps its
    /// mapcount, PageAnonExclusive, data and the head's folio flags; its refcount is its
    /// mapcount plus `perPageRef` (a swapcache reference), plus `headExtra` for the head and
    /// `mappedTailExtra` for a mapped tail (reclaim isolates those onto its list). Returns the
    /// pages left with no reference (the caller frees them).
    func splitToOrder0(_ folio: PFN, perPageRef: Int32, headExtra: Int32, mappedTailExtra: Int32 = 0) -> [PFN] {
        let order = Int(frames[folio.index].flags & PageFlag.orderMask)
        let nr = 1 << order
        logNewFrames(folio.index, nr)
        let keep = frames[folio.index].flags & (PageFlag.anon | PageFlag.swapBacked | PageFlag.dirty | PageFlag.lru
            | PageFlag.uptodate | PageFlag.swapCache | PageFlag.file | PageFlag.locked)
        willWrite(folio.index, count: nr)
        let idx = metaIndex(folio)
        large[idx].inUse = false
        largeFree.append(Int32(idx))
        folioCounts[order] -= 1
        folioCounts[0] += nr
        var freed: [PFN] = []
        for i in 0..<nr {
            let p = folio.index + i
            let ae = frames[p].flags & PageFlag.anonExclusive
            let ref = frames[p].map + perPageRef + (i == 0 ? headExtra : (frames[p].map > 0 ? mappedTailExtra : 0))
            let locked = i == 0 ? keep : keep & ~PageFlag.locked
            mframes[p].flags = PageFlag.allocated | PageFlag.head | locked | ae
            mframes[p].ref = ref
            if ref == 0 { freed.append(PFN(p)) }
        }
        return freed
    }

    // MARK: instrumentation (unlogged)

    /// The large-folio side table and a folio's entry in it, as the checker reads them.
    var peekLarge: [LargeFolioMeta] { large }
    func peekMetaIndex(_ folio: PFN) -> Int { metaIndex(folio) }
    func peekMeta(_ folio: PFN) -> LargeFolioMeta { large[metaIndex(folio)] }
    /// Free blocks of `order` in the buddy allocator.
    func peekFreeBlocks(_ order: Int) -> Int { freeBlocks[order] }
    /// `folio(of:)` for the checker, unlogged.
    @inline(__always) func peekFolio(of page: PFN) -> PFN {
        PFN(page.raw & ~((UInt32(1) << (frames[page.index].flags & PageFlag.orderMask)) - 1))
    }

    // MARK: the MMU

    /// A store by the CPU through a mapping of `page` (`memcpy` to user memory).
    @inline(__always) func mmuStore(_ page: PFN, _ value: UInt32) {
        logPage(page.index, write: true, value: 0, use: "stored to")
        writeFrame(page.index).pointee.data = value
    }
    /// A load by the CPU through a mapping of `page`.
    @inline(__always) func mmuLoad(_ page: PFN) -> UInt32 {
        logPage(page.index, write: false, value: UInt64(frames[page.index].data), use: "loaded from")
        return frames[page.index].data
    }
}
