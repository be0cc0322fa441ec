/// Folio accessors over the memmap. A folio is named by its head PFN; a page by its own PFN.
/// Folios are naturally aligned in PFN space (the buddy allocator guarantees it), so the head
/// of any page is its PFN rounded down to the folio order stored in every frame.
extension PhysicalMemory {
    @inline(__always) public func order(of folio: PFN) -> Int { Int(frames[folio.index].flags & PageFlag.orderMask) }
    @inline(__always) public func nrPages(_ folio: PFN) -> Int { 1 << order(of: folio) }
    @inline(__always) public func isLarge(_ folio: PFN) -> Bool { frames[folio.index].flags & PageFlag.orderMask != 0 }
    /// `page_folio`.
    @inline(__always) public func folio(of page: PFN) -> PFN {
        let o = frames[page.index].flags & PageFlag.orderMask
        return PFN(page.raw & ~((UInt32(1) << o) - 1))
    }
    @inline(__always) public func isAllocated(_ page: PFN) -> Bool {
        page.index < frameCount && frames[page.index].flags & PageFlag.allocated != 0
    }
    @inline(__always) public func test(_ page: PFN, _ flag: UInt32) -> Bool {
        if _slowPath(accessLogging), let l = log { logUse(l, page, write: false, "read the flags of") }
        return frames[page.index].flags & flag != 0
    }
    @inline(__always) public func set(_ page: PFN, _ flag: UInt32) {
        if _slowPath(accessLogging), let l = log { logUse(l, page, write: true, "set a flag of") }
        writeFrame(page.index).pointee.flags |= flag
    }
    @inline(__always) public func clear(_ page: PFN, _ flag: UInt32) {
        if _slowPath(accessLogging), let l = log { logUse(l, page, write: true, "clear a flag of") }
        writeFrame(page.index).pointee.flags &= ~flag
    }

    @inline(__always) public func isAnon(_ folio: PFN) -> Bool { test(folio, PageFlag.anon) }
    @inline(__always) public func isZero(_ folio: PFN) -> Bool { test(folio, PageFlag.zero) }
    /// `PageAnonExclusive`.
    @inline(__always) public func anonExclusive(_ page: PFN) -> Bool { test(page, PageFlag.anonExclusive) }
    /// `folio_ref_count`. Reading a freed frame's count is allowed (GUP-fast's
    /// `try_get_folio` does it speculatively), so it is not a use-after-free.
    @inline(__always) public func refcount(_ folio: PFN) -> Int32 {
        if _slowPath(accessLogging), let l = log { logAccess(l, folio, write: false) }
        return frames[folio.index].ref
    }
    /// Per-page mapcount (`page_mapcount` without the entire mapcount).
    @inline(__always) public func pageMapcount(_ page: PFN) -> Int32 {
        if _slowPath(accessLogging), let l = log { logUse(l, page, write: false, "read the mapcount of") }
        return frames[page.index].map
    }
    @inline(__always) public func data(_ page: PFN) -> UInt32 {
        if _slowPath(accessLogging), let l = log { logUse(l, page, write: false, "read the data of") }
        return frames[page.index].data
    }
    @inline(__always) public func setData(_ page: PFN, _ value: UInt32) {
        if _slowPath(accessLogging), let l = log { logUse(l, page, write: true, "wrote the data of") }
        writeFrame(page.index).pointee.data = value
    }

    @inline(__always) func metaIndex(_ folio: PFN) -> Int { Int(frames[folio.index + 1].ref) }
    /// The large-folio fields; only valid for a large folio.
    @inline(__always) public func meta(_ folio: PFN) -> LargeFolioMeta {
        if _slowPath(accessLogging), let l = log { logUse(l, folio, write: false, "read the large-folio counts of") }
        return large[metaIndex(folio)]
    }
    @inline(__always) func withMeta<R>(_ folio: PFN, _ body: (inout LargeFolioMeta) -> R) -> R {
        if _slowPath(accessLogging), let l = log { logUse(l, folio, write: true, "changed the large-folio counts of") }
        willWrite(folio.index)
        return body(&large[metaIndex(folio)])
    }

    /// `folio_mapcount`: small: the page's mapcount; large: the large mapcount.
    public func folioMapcount(_ folio: PFN) -> Int32 {
        isLarge(folio) ? meta(folio).largeMapcount : frames[folio.index].map
    }
    /// `folio_maybe_dma_pinned`: exact for large folios, `ref >= BIAS` for small ones.
    public func maybeDMAPinned(_ folio: PFN) -> Bool {
        if isLarge(folio) { return meta(folio).pincount > 0 }
        return UInt32(bitPattern: refcount(folio)) >= UInt32(gupPinCountingBias)
    }
    /// `folio_test_partially_mapped` condition: some but not all pages mapped, no PMD mapping.
    public func isPartiallyMapped(_ folio: PFN) -> Bool {
        guard isLarge(folio) else { return false }
        let m = meta(folio)
        return m.entireMapcount == 0 && m.nrPagesMapped > 0 && Int(m.nrPagesMapped) < nrPages(folio)
    }

    /// Allocates and initialises a folio of `order` (`folio_alloc` + zeroing): `ref = 1`, no
    /// mappings, every data word 0. Returns nil when the buddy allocator has no block.
    public func allocFolio(order: Int) -> PFN? {
        if _slowPath(accessLogging), let l = log { l.note(.allocator, write: true) }
        guard let start = allocBlock(order: order) else { return nil }
        let flagsTail = PageFlag.allocated | UInt32(order)
        let nr = 1 << order
        willWrite(start, count: nr)
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

    /// Frees a folio whose refcount reached zero (`free_unref_folios` / `__free_pages`):
    /// clears every flag, including PageAnonExclusive, and returns its block to the buddy.
    public func freeFolio(_ folio: PFN) {
        if _slowPath(accessLogging), let l = log { l.noteFolio(folio, write: true); l.note(.allocator, write: true) }
        let o = order(of: folio)
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

    /// `folio_get` / `folio_ref_add`.
    @inline(__always) public func folioGet(_ folio: PFN, _ n: Int32 = 1) {
        if _slowPath(accessLogging), let l = log { logUse(l, folio, write: true, "folio_get on") }
        writeFrame(folio.index).pointee.ref &+= n
    }

    /// `folio_put` / `folio_put_refs`. Returns true when the folio was freed. Reserved pages
    /// (the zero page, the huge zero folio) are never freed.
    @discardableResult
    public func folioPut(_ folio: PFN, _ n: Int32 = 1) -> Bool {
        if _slowPath(accessLogging), let l = log { logUse(l, folio, write: true, "folio_put on") }
        writeFrame(folio.index).pointee.ref &-= n
        guard frames[folio.index].ref == 0, !test(folio, PageFlag.reserved) else { return false }
        freeFolio(folio)
        return true
    }

    /// `mm_get_huge_zero_folio`: allocates the huge zero folio on first use; nil if that fails.
    public func hugeZeroFolio() -> PFN? {
        if let h = hugeZeroPFN { return h }
        guard let h = allocFolio(order: Geometry.pmdOrder) else { return nil }
        set(h, PageFlag.zero | PageFlag.reserved | PageFlag.uptodate)
        hugeZeroPFN = h
        return h
    }

    /// True if `page` is the zero page or a page of the huge zero folio (`is_zero_pfn` /
    /// `is_huge_zero_folio`).
    @inline(__always) public func isZeroPage(_ page: PFN) -> Bool { test(folio(of: page), PageFlag.zero) }
}
