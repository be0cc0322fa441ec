import Foundation

/// Simulated physical memory: a flat memmap of `Frame` records indexed by PFN, the buddy
/// allocator's free lists, the side table of large-folio state, the shared zero page and the
/// huge zero folio.
///
/// The memmap is one zero-filled buffer whose pages the host backs on first touch, so frames
/// that were never used cost (almost) nothing and a 1 TiB machine fits. Max-order blocks that were never allocated stay off the free list,
/// above `virginNext`, and are handed out in ascending order once the list is empty: exactly
/// the order in which a list holding them from boot would hand them out.
public final class PhysicalMemory {
    public let frameCount: Int
    /// The memmap, read-only: kernel paths write a frame through `writeFrame` (or the
    /// accessors in Folio.swift), which notes the write for the incremental checker.
    public let frames: UnsafePointer<Frame>
    let mframes: UnsafeMutablePointer<Frame>
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
    public internal(set) var freePages: Int = 0
    /// Never-allocated max-order blocks: `[virginNext, virginEnd)`, all free, all frames zero.
    var virginNext: Int
    let virginEnd: Int
    var large: [LargeFolioMeta] = []
    var largeFree: [Int32] = []
    /// PFN of the shared zero page (`zero_pfn`), reserved at boot.
    public let zeroPFN: PFN
    /// Head PFN of the huge zero folio once allocated (`huge_zero_folio`), allocated on first use.
    public internal(set) var hugeZeroPFN: PFN?
    /// Set while an explorer runs: records what each step touches (see `AccessLog`). Set
    /// through `World.log`, which counts the attached logs.
    public internal(set) var log: AccessLog?
    /// Number of folios allocated per order (gauge), indexed by order.
    let folioCounts: UnsafeMutablePointer<Int>
    public var allocatedFolios: [Int] { (0...Geometry.maxOrder).map { folioCounts[$0] } }

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
    public init(bytes: UInt64) {
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
    public var usedFrameRanges: [Range<Int>] {
        virginEnd < frameCount ? [0..<virginNext, virginEnd..<frameCount] : [0..<virginNext]
    }

    /// Frames ever used (what the memmap costs in host memory).
    public var usedFrameCount: Int { usedFrameRanges.reduce(0) { $0 + $1.count } }

    public var totalPages: Int { frameCount }
    public var usedPages: Int { frameCount - freePages }
}

/// Change tracking for the incremental checker (Check/Checker.swift): which frames were
/// written since the last check, and what those that were in use held then.
extension PhysicalMemory {
    /// A frame for writing: the write is noted first.
    @inline(__always) func writeFrame(_ pfn: Int) -> UnsafeMutablePointer<Frame> {
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
    @inline(__always) func willWrite(_ start: Int, count: Int) {
        if _slowPath(tracksChanges) { noteWrites(start, count) }
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

    /// The changed frames in ascending order, clearing their bits; nil when not tracking.
    func takeChangedFrames(_ body: (Int) -> Void) {
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

extension PhysicalMemory {
    /// Notes an access to the folio of `page` in the step's footprint.
    func logAccess(_ l: AccessLog, _ page: PFN, write: Bool) {
        guard l.enabled, page.index < frameCount else { return }
        l.noteFolio(folio(of: page), write: write)
    }

    /// Notes an access that uses the frame (its data, flags or counts): on a freed frame it is
    /// a use-after-free.
    func logUse(_ l: AccessLog, _ page: PFN, write: Bool, _ what: StaticString) {
        guard l.enabled, page.index < frameCount else { return }
        if frames[page.index].flags & PageFlag.allocated == 0 {
            l.noteUseAfterFree(page, "\(what) freed \(page)")
        }
        l.noteFolio(folio(of: page), write: write)
    }
}
