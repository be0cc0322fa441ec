import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

@Suite(.enabled(if: Tier.fast)) struct BuddyAllocatorTests {
    @Test func allocationSplitsAndFreeMerges() {
        let m = PhysicalMemory(bytes: 4 << 20)
        let freeBefore = m.freePages
        let infoBefore = m.buddyInfo
        let f = m.allocFolio(order: 0)!
        #expect(m.freePages == freeBefore - 1)
        #expect(m.refcount(f) == 1)
        #expect(m.order(of: f) == 0)
        m.folioPut(f)
        #expect(m.freePages == freeBefore)
        #expect(m.buddyInfo == infoBefore)
    }

    @Test func largeFolioIsNaturallyAlignedAndCarriesItsOrder() {
        let m = PhysicalMemory(bytes: 4 << 20)
        let f = m.allocFolio(order: 4)!
        #expect(f.raw % 16 == 0)
        #expect(m.isLarge(f))
        for i in 0..<16 { #expect(m.folio(of: f + i) == f) }
        #expect(m.meta(f).largeMapcount == 0)
        #expect(m.meta(f).pincount == 0)
        m.folioPut(f)
        #expect(!m.isAllocated(f))
    }

    @Test func fragmentationMakesLargeAllocationsFail() {
        // 2 MiB of memory: after the zero page, no order-9 block can exist.
        let m = PhysicalMemory(bytes: 2 << 20)
        #expect(m.allocFolio(order: 9) == nil)
        // Take every order-0 page, free every other one: plenty free, but no order-1 block.
        var pages: [PFN] = []
        while let p = m.allocFolio(order: 0) { pages.append(p) }
        for (i, p) in pages.enumerated() where i % 2 == 0 { m.folioPut(p) }
        #expect(m.freePages > 200)
        #expect(m.allocFolio(order: 1) == nil)
        #expect(m.allocFolio(order: 0) != nil)
    }

    @Test func zeroPageIsReservedAndNeverFreed() {
        let m = PhysicalMemory(bytes: 1 << 20)
        #expect(m.isZero(m.zeroPFN))
        m.folioPut(m.zeroPFN)
        #expect(m.isAllocated(m.zeroPFN))
        let h = m.hugeZeroFolio()
        #expect(h == nil, "1 MiB holds no order-9 block, so the huge zero folio cannot exist")
    }
}

@Suite(.enabled(if: Tier.fast)) struct PTEValueTests {
    @Test func presentBitsRoundTrip() {
        let p = PTE.page(PFN(0x1234), write: true, dirty: true, young: false)
        #expect(p.isPresent && p.isWritable && p.isDirty && !p.isYoung)
        #expect(p.pfn == PFN(0x1234))
        #expect(p.withWrite(false).isWritable == false)
        #expect(p.withPFN(PFN(7)).pfn == PFN(7))
        #expect(p.withPFN(PFN(7)).isDirty)
    }

    @Test func swapEntryKeepsTheExclusiveBit() {
        let s = PTE.swap(slot: 42, exclusive: true)
        #expect(!s.isPresent && s.isSwap && s.isSwapExclusive && s.swapSlot == 42)
        #expect(!s.withSwapExclusive(false).isSwapExclusive)
    }
}
