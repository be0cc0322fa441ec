/// Simulated physical memory: a flat memmap of `Frame` records indexed by PFN, the buddy
/// allocator's free lists, the side table of large-folio state, the shared zero page and the
/// huge zero folio.
///
/// The memmap is one manually allocated buffer, so a fault touches it without hashing,
/// copy-on-write checks or exclusivity bookkeeping.
public final class PhysicalMemory {
    public let frameCount: Int
    public let frames: UnsafeMutablePointer<Frame>
    /// Free-list heads and block counts per order.
    let freeHead: UnsafeMutablePointer<Int32>
    let freeBlocks: UnsafeMutablePointer<Int>
    public internal(set) var freePages: Int = 0
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

    /// Creates memory of `bytes` (a multiple of the page size); PFN 0 becomes the zero page.
    public init(bytes: UInt64) {
        let count = Int(bytes / Geometry.pageSize)
        precondition(count >= 2, "memory must hold at least two pages")
        frameCount = count
        frames = .allocate(capacity: count)
        frames.initialize(repeating: Frame(), count: count)
        freeHead = .allocate(capacity: Geometry.maxOrder + 1)
        freeHead.initialize(repeating: -1, count: Geometry.maxOrder + 1)
        freeBlocks = .allocate(capacity: Geometry.maxOrder + 1)
        freeBlocks.initialize(repeating: 0, count: Geometry.maxOrder + 1)
        folioCounts = .allocate(capacity: Geometry.maxOrder + 1)
        folioCounts.initialize(repeating: 0, count: Geometry.maxOrder + 1)
        zeroPFN = PFN(0)
        frames[0] = Frame(ref: 1, map: 0,
                          flags: PageFlag.allocated | PageFlag.head | PageFlag.zero | PageFlag.reserved | PageFlag.uptodate)
        // Free the rest in naturally aligned blocks, highest PFN first, so that the free lists
        // hand out low PFNs first.
        var blocks: [(Int, Int)] = []
        var pfn = 1
        while pfn < count {
            var order = Geometry.maxOrder
            while order > 0 && (pfn & ((1 << order) - 1) != 0 || pfn + (1 << order) > count) { order -= 1 }
            blocks.append((pfn, order))
            pfn += 1 << order
        }
        for (start, order) in blocks.reversed() { freeListPush(start, order: order) }
    }

    /// A deep copy: the explorer's snapshot of the world after a config's `steps`.
    init(copying o: PhysicalMemory) {
        frameCount = o.frameCount
        frames = .allocate(capacity: o.frameCount)
        frames.initialize(from: o.frames, count: o.frameCount)
        freeHead = .allocate(capacity: Geometry.maxOrder + 1)
        freeHead.initialize(from: o.freeHead, count: Geometry.maxOrder + 1)
        freeBlocks = .allocate(capacity: Geometry.maxOrder + 1)
        freeBlocks.initialize(from: o.freeBlocks, count: Geometry.maxOrder + 1)
        folioCounts = .allocate(capacity: Geometry.maxOrder + 1)
        folioCounts.initialize(from: o.folioCounts, count: Geometry.maxOrder + 1)
        freePages = o.freePages
        large = o.large
        largeFree = o.largeFree
        zeroPFN = o.zeroPFN
        hugeZeroPFN = o.hugeZeroPFN
    }

    deinit {
        frames.deallocate()
        freeHead.deallocate()
        freeBlocks.deallocate()
        folioCounts.deallocate()
    }

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
