/// One record of the simulated memmap (`struct page`), 16 bytes.
///
/// The fields are reused the way the kernel reuses `struct page`: on a free buddy block's
/// head `ref`/`map` hold the free-list links; on page[1] of a large folio `ref` holds the
/// index of the folio's `LargeFolioMeta` (the kernel keeps `_large_mapcount`, `_pincount`
/// and friends in the first tail pages too).
package struct Frame: Sendable, Equatable {
    /// Head: `folio_ref_count`. Free block head: next free PFN (-1 ends the list).
    /// page[1] of a large folio: index of its `LargeFolioMeta`.
    package var ref: Int32
    /// Per-page mapcount (the true count; the kernel stores count-1). Free block head: prev link.
    package var map: Int32
    package var flags: UInt32
    /// The data word of this page: what user space last stored into it.
    package var data: UInt32

    @inline(__always) package init(ref: Int32 = 0, map: Int32 = 0, flags: UInt32 = 0, data: UInt32 = 0) {
        self.ref = ref; self.map = map; self.flags = flags; self.data = data
    }
}

/// Bits of `Frame.flags`. Per-page bits are meaningful on every frame; folio bits on the head.
package enum PageFlag {
    /// Low four bits: the order of the folio (or free block) this frame belongs to.
    package static let orderMask: UInt32 = 0xF
    /// Frame belongs to an allocated folio.
    package static let allocated: UInt32 = 1 << 4
    /// First frame of a folio.
    package static let head: UInt32 = 1 << 5
    /// `PageBuddy`: head of a free block on a free list.
    package static let buddy: UInt32 = 1 << 6
    /// `PageAnon` (folio).
    package static let anon: UInt32 = 1 << 7
    /// `PageAnonExclusive` (per page; head only for PMD-mapped folios).
    package static let anonExclusive: UInt32 = 1 << 8
    /// `PG_swapcache` (folio).
    package static let swapCache: UInt32 = 1 << 9
    /// `PG_locked` (folio lock).
    package static let locked: UInt32 = 1 << 10
    /// `PG_lru` (folio is on an LRU list).
    package static let lru: UInt32 = 1 << 11
    /// `PG_dirty` (folio).
    package static let dirty: UInt32 = 1 << 12
    /// `PageKsm` (folio).
    package static let ksm: UInt32 = 1 << 13
    /// The shared zero page or the huge zero folio.
    package static let zero: UInt32 = 1 << 14
    /// A pagecache folio of a file.
    package static let file: UInt32 = 1 << 15
    /// On the deferred split queue (`folio->_deferred_list` non-empty).
    package static let deferredQueued: UInt32 = 1 << 16
    /// `PG_partially_mapped` (folio).
    package static let partiallyMapped: UInt32 = 1 << 17
    /// `PG_uptodate` (folio).
    package static let uptodate: UInt32 = 1 << 18
    /// `PG_swapbacked` (folio).
    package static let swapBacked: UInt32 = 1 << 19
    /// Reserved at boot (never freed): the zero page.
    package static let reserved: UInt32 = 1 << 20
}

/// Folio-wide state of a large folio that the kernel keeps in its first tail pages.
package struct LargeFolioMeta: Sendable, Equatable {
    /// `_large_mapcount + 1`: PTE mappings of any page plus PMD mappings.
    package var largeMapcount: Int32 = 0
    /// `_entire_mapcount + 1`: PMD mappings of the whole folio.
    package var entireMapcount: Int32 = 0
    /// `_pincount`.
    package var pincount: Int32 = 0
    /// `_nr_pages_mapped` without the ENTIRELY_MAPPED bias (that is derived from `entireMapcount`).
    package var nrPagesMapped: Int32 = 0
    /// 6.15+ `_mm_id[2]` (0 = the dummy id of a free slot).
    package var mmId0: Int32 = 0
    package var mmId1: Int32 = 0
    /// 6.15+ `_mm_id_mapcount[2]`, stored as true counts (the kernel stores count-1).
    package var mmIdCount0: Int32 = 0
    package var mmIdCount1: Int32 = 0
    /// 6.15+ "maybe mapped shared" bit (`FOLIO_MM_IDS_SHARED_BIT`).
    package var maybeMappedShared: Bool = false
    package var inUse: Bool = false
}
