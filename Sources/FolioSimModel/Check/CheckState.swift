import Foundation

/// What the checker derived from the page tables at its last check, kept between checks so
/// that the next one revisits only what changed (Checker.swift).
///
/// The unit of the walk is one 2 MiB range of one address space (one PMD entry): its record
/// holds what that range contributed to the aggregates, so that a changed range can take its
/// old contribution back out before adding the new one. Per-page PTE mapping counts need the
/// entries themselves: those come from the PTE table's copy of its entries as they were at
/// the last check (`PTETable.entriesAtLastCheck`).
final class CheckState {
    /// PTE mappings of every page (present, not special), counted by PFN.
    var pteMaps: PageCounters
    /// PMD mappings of every folio mapped by a huge PMD (not the huge zero folio).
    var pmdMaps: [UInt32: Int32] = [:]
    /// For each large folio: the address spaces mapping it, with the number of units that do.
    var mappers: [UInt32: [Int: Int32]] = [:]
    /// Swap PTEs referring to each slot.
    var swapRefs: [Int: Int32] = [:]
    /// The units of each address space (by mm index), in address order.
    var units: [[UnitRecord]] = []
    /// The address spaces alive at the last check, by index in increasing order: the only
    /// ones with units in the record.
    var recordedMMs: [Int] = []
    /// MM_ANONPAGES, MM_FILEPAGES and MM_SWAPENTS as the page tables say, by mm index.
    var rss: [RSSCount] = []
    /// References and `_pincount`s the pins account for, by folio.
    var pinRefs: [UInt32: Int32] = [:]
    var pinCounts: [UInt32: Int32] = [:]
    /// Folios in some file's pagecache.
    var pagecache: Set<UInt32> = []

    /// Pages the incremental check watches (ChangeWatch): a mark each, and the PTE mappings
    /// of them it revisited. Cleared after each check.
    private let watchBits: UnsafeMutablePointer<UInt64>
    var watchAdds: PageCounters

    let frameCount: Int

    init(frameCount: Int) {
        self.frameCount = frameCount
        pteMaps = PageCounters(frameCount)
        watchAdds = PageCounters(frameCount)
        watchBits = calloc((frameCount + 63) / 64, 8)!.bindMemory(to: UInt64.self, capacity: (frameCount + 63) / 64)
    }

    deinit { free(watchBits) }

    @inline(__always) func isWatched(_ pfn: Int) -> Bool {
        pfn < frameCount && watchBits[pfn >> 6] & (UInt64(1) << UInt64(pfn & 63)) != 0
    }
    func setWatched(_ pfn: Int, _ on: Bool) {
        if on {
            watchBits[pfn >> 6] |= UInt64(1) << UInt64(pfn & 63)
        } else {
            watchBits[pfn >> 6] &= ~(UInt64(1) << UInt64(pfn & 63))
            watchAdds.reset(PFN(UInt32(pfn)))
        }
    }

    func setUnits(_ mm: Int, _ records: [UnitRecord]) {
        while units.count <= mm { units.append([]) }
        units[mm] = records
    }

    func rss(_ mm: Int) -> RSSCount {
        mm < rss.count ? rss[mm] : RSSCount()
    }
    func addRSS(_ mm: Int, _ r: RSSCount, _ sign: Int32) {
        while rss.count <= mm { rss.append(RSSCount()) }
        rss[mm].anon += sign * r.anon
        rss[mm].file += sign * r.file
        rss[mm].swap += sign * r.swap
    }
}

struct RSSCount: Equatable {
    var anon: Int32 = 0
    var file: Int32 = 0
    var swap: Int32 = 0
}

/// One 2 MiB range of one address space as the checker last saw it.
struct UnitRecord: Equatable {
    var addr: UInt64
    /// The PMD entry (raw), 0 without a PMD table.
    var pmd: UInt64 = 0
    /// The PTE table the entry points to, or the table deposited with a huge PMD; 0 if none.
    var table: Int32 = 0
    /// The parts of the range inside VMAs (`VMASpan.packed`): the first one, then any others.
    var span0: UInt32 = 0
    var moreSpans: [UInt32] = []
    var rss = RSSCount()
    /// The folio a huge PMD maps, counted in `pmdMaps` `pmdCount` times (once per span).
    var pmdFolio: UInt32 = 0
    var pmdCount: Int32 = 0
    /// Large folios mapped here (each once), counted in `mappers`.
    var largeHeads: [UInt32] = []

    var spans: [UInt32] { [span0] + moreSpans }
}

/// A part of a unit that one VMA covers.
struct VMASpan {
    var start: UInt64
    var end: UInt64
    var vma: VMA

    /// First and end page within the unit (0…512, ten bits each) and the two VMA properties
    /// the checks read.
    var packed: UInt32 {
        let lo = UInt32((start & (Geometry.pmdSize - 1)) >> Geometry.pageShift)
        let hi = UInt32(((end - 1) & (Geometry.pmdSize - 1)) >> Geometry.pageShift) + 1
        return lo | hi << 10 | (vma.isShared ? 1 << 20 : 0) | (vma.isAnonymous ? 1 << 21 : 0)
    }
    static func pages(_ packed: UInt32) -> Range<Int> { Int(packed & 0x3FF)..<Int(packed >> 10 & 0x3FF) }
}

/// One counter per frame: a byte each in zero-filled memory the host backs on first touch, so
/// frames never mapped cost nothing; the rare counts above 254 live in a side table.
struct PageCounters: ~Copyable {
    private let counts: UnsafeMutablePointer<UInt8>
    private var overflow: [Int: Int32] = [:]
    private let size: Int
    /// Set when a count would go below zero: the checker's bookkeeping lost track.
    private(set) var inconsistent = false

    init(_ frameCount: Int) {
        size = frameCount
        counts = calloc(max(1, frameCount), 1)!.bindMemory(to: UInt8.self, capacity: max(1, frameCount))
    }

    deinit { free(counts) }

    /// The count is incremented before it is tested, so that the first access to a counter's
    /// page is a write: the host then backs the page with one fault, where a read first maps
    /// the zero page and the write faults again to replace it (1,026 faults of 28,000 in the
    /// 16 GiB write).
    @inline(__always) mutating func add(_ page: PFN) {
        let i = page.index
        guard i < size else { return }
        counts[i] &+= 1
        if _slowPath(counts[i] == 0) {
            counts[i] = 255
            overflow[i, default: 255] += 1
        }
    }

    @inline(__always) mutating func remove(_ page: PFN) {
        let i = page.index
        guard i < size else { return }
        if counts[i] == 0 {
            inconsistent = true
        } else if counts[i] < 255 {
            counts[i] -= 1
        } else if let o = overflow[i], o > 255 {
            overflow[i] = o - 1
        } else {
            overflow[i] = nil
            counts[i] = 254
        }
    }

    mutating func reset(_ page: PFN) {
        let i = page.index
        guard i < size else { return }
        counts[i] = 0
        if !overflow.isEmpty { overflow[i] = nil }
    }

    @inline(__always) subscript(_ page: PFN) -> Int32 {
        let i = page.index
        guard i < size else { return 0 }
        let c = counts[i]
        return c < 255 ? Int32(c) : overflow[i] ?? 255
    }
}
