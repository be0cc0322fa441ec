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
    public let frames: UnsafeMutablePointer<Frame>
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

    /// Creates memory of `bytes` (a multiple of the page size); PFN 0 becomes the zero page.
    public init(bytes: UInt64) {
        let count = Int(bytes / Geometry.pageSize)
        precondition(count >= 2, "memory must hold at least two pages")
        frameCount = count
        frames = Self.reserveFrames(count)
        freeHead = .allocate(capacity: Geometry.maxOrder + 1)
        freeHead.initialize(repeating: -1, count: Geometry.maxOrder + 1)
        freeBlocks = .allocate(capacity: Geometry.maxOrder + 1)
        freeBlocks.initialize(repeating: 0, count: Geometry.maxOrder + 1)
        folioCounts = .allocate(capacity: Geometry.maxOrder + 1)
        folioCounts.initialize(repeating: 0, count: Geometry.maxOrder + 1)
        zeroPFN = PFN(0)
        frames[0] = Frame(ref: 1, map: 0,
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
        frames = Self.reserveFrames(o.frameCount)
        for r in o.usedFrameRanges { (frames + r.lowerBound).update(from: o.frames + r.lowerBound, count: r.count) }
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
        free(frames)
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
