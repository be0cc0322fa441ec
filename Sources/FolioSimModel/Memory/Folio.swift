/// Folio-level questions the kernel asks, composed from the memmap's accessors
/// (PhysicalMemory.swift), so that every frame they read is in the step's footprint.
extension PhysicalMemory {
    @inline(__always) package func isAnon(_ folio: PFN) -> Bool { test(folio, PageFlag.anon) }
    @inline(__always) package func isZero(_ folio: PFN) -> Bool { test(folio, PageFlag.zero) }
    /// `PageAnonExclusive`.
    @inline(__always) package func anonExclusive(_ page: PFN) -> Bool { test(page, PageFlag.anonExclusive) }

    /// `folio_mapcount`: small: the page's mapcount; large: the large mapcount.
    package func folioMapcount(_ folio: PFN) -> Int32 {
        isLarge(folio) ? meta(folio).largeMapcount : pageMapcount(folio)
    }
    /// `folio_maybe_dma_pinned`: exact for large folios, `ref >= BIAS` for small ones.
    package func maybeDMAPinned(_ folio: PFN) -> Bool {
        if isLarge(folio) { return meta(folio).pincount > 0 }
        return UInt32(bitPattern: refcount(folio)) >= UInt32(gupPinCountingBias)
    }

    /// True if `page` is the zero page or a page of the huge zero folio (`is_zero_pfn` /
    /// `is_huge_zero_folio`).
    @inline(__always) package func isZeroPage(_ page: PFN) -> Bool { test(folio(of: page), PageFlag.zero) }
}
