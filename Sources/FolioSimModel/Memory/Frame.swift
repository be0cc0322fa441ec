/// One record of the simulated memmap (`struct page`), 16 bytes.
///
/// The fields are reused the way the kernel reuses `struct page`: on a free buddy block's
/// head `ref`/`map` hold the free-list links; on page[1] of a large folio `ref` holds the
/// index of the folio's `LargeFolioMeta` (the kernel keeps `_large_mapcount`, `_pincount`
/// and friends in the first tail pages too).
public struct Frame: Sendable, Equatable {
    /// Head: `folio_ref_count`. Free block head: next free PFN (-1 ends the list).
    /// page[1] of a large folio: index of its `LargeFolioMeta`.
    public var ref: Int32
    /// Per-page mapcount (the true count; the kernel stores count-1). Free block head: prev link.
    public var map: Int32
    public var flags: UInt32
    /// The data word of this page: what user space last stored into it.
    public var data: UInt32

    @inline(__always) public init(ref: Int32 = 0, map: Int32 = 0, flags: UInt32 = 0, data: UInt32 = 0) {
        self.ref = ref; self.map = map; self.flags = flags; self.data = data
    }
}

/// Bits of `Frame.flags`. Per-page bits are meaningful on every frame; folio bits on the head.
public enum PageFlag {
    /// Low four bits: the order of the folio (or free block) this frame belongs to.
    public static let orderMask: UInt32 = 0xF
    /// Frame belongs to an allocated folio.
    public static let allocated: UInt32 = 1 << 4
    /// First frame of a folio.
    public static let head: UInt32 = 1 << 5
    /// `PageBuddy`: head of a free block on a free list.
    public static let buddy: UInt32 = 1 << 6
    /// `PageAnon` (folio).
    public static let anon: UInt32 = 1 << 7
    /// `PageAnonExclusive` (per page; head only for PMD-mapped folios).
    public static let anonExclusive: UInt32 = 1 << 8
    /// `PG_swapcache` (folio).
    public static let swapCache: UInt32 = 1 << 9
    /// `PG_locked` (folio lock).
    public static let locked: UInt32 = 1 << 10
    /// `PG_lru` (folio is on an LRU list).
    public static let lru: UInt32 = 1 << 11
    /// `PG_dirty` (folio).
    public static let dirty: UInt32 = 1 << 12
    /// `PageKsm` (folio).
    public static let ksm: UInt32 = 1 << 13
    /// The shared zero page or the huge zero folio.
    public static let zero: UInt32 = 1 << 14
    /// A pagecache folio of a file.
    public static let file: UInt32 = 1 << 15
    /// On the deferred split queue (`folio->_deferred_list` non-empty).
    public static let deferredQueued: UInt32 = 1 << 16
    /// `PG_partially_mapped` (folio).
    public static let partiallyMapped: UInt32 = 1 << 17
    /// `PG_uptodate` (folio).
    public static let uptodate: UInt32 = 1 << 18
    /// `PG_swapbacked` (folio).
    public static let swapBacked: UInt32 = 1 << 19
    /// Reserved at boot (never freed): the zero page.
    public static let reserved: UInt32 = 1 << 20
}

/// Folio-wide state of a large folio that the kernel keeps in its first tail pages.
public struct LargeFolioMeta: Sendable, Equatable {
    /// `_large_mapcount + 1`: PTE mappings of any page plus PMD mappings.
    public var largeMapcount: Int32 = 0
    /// `_entire_mapcount + 1`: PMD mappings of the whole folio.
    public var entireMapcount: Int32 = 0
    /// `_pincount`.
    public var pincount: Int32 = 0
    /// `_nr_pages_mapped` without the ENTIRELY_MAPPED bias (that is derived from `entireMapcount`).
    public var nrPagesMapped: Int32 = 0
    /// 6.15+ `_mm_id[2]` (0 = the dummy id of a free slot).
    public var mmId0: Int32 = 0
    public var mmId1: Int32 = 0
    /// 6.15+ `_mm_id_mapcount[2]`, stored as true counts (the kernel stores count-1).
    public var mmIdCount0: Int32 = 0
    public var mmIdCount1: Int32 = 0
    /// 6.15+ "maybe mapped shared" bit (`FOLIO_MM_IDS_SHARED_BIT`).
    public var maybeMappedShared: Bool = false
    public var inUse: Bool = false
}
