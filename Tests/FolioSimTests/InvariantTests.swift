import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// Each invariant catches a deliberately broken state.
@Suite(.enabled(if: Tier.fast)) struct InvariantTests {
    /// A healthy world: P has order-0 pages at base (written 1), a 64K folio at base+1M
    /// (written 2) and a 64K folio at base+2M (its first four pages written 3); a fork child
    /// C shares them all.
    /// Its checks are audited: the breakage each test makes after the first check must be
    /// caught by the incremental check too, not only by the full one.
    func healthy() async throws -> (Fixture, SimThread) {
        let f = Fixture(swap: 4 << 20, sizes: [4: .always])
        f.world.checkStrategy = .audit
        try await f.mmap(4 << 20)
        try await f.world.madvise(f.p, addr: Fixture.base, size: 1 << 20, advice: .nohugepage)
        await f.write(f.p, Fixture.base, 4 * Geometry.pageSize, 1)
        await f.write(f.p, Fixture.base + (1 << 20), 64 << 10, 2)
        await f.write(f.p, Fixture.base + (2 << 20), 4 * Geometry.pageSize, 3)
        let c = try await f.world.fork(f.p, childName: "C")
        #expect(f.violated().isEmpty)
        return (f, c)
    }

    func expectCaught(_ invariant: Invariant, _ f: Fixture) {
        let found = f.violated()
        #expect(found.contains(invariant.rawValue), "expected \(invariant.rawValue), got \(found)")
        #expect(f.world.auditFailures.isEmpty, "\(f.world.auditFailures)")
    }

    @Test func writablePTEWithoutAE() async throws {
        let (f, _) = try await healthy()
        let page = f.page(f.p, Fixture.base)!
        f.world.memory.clear(page, PageFlag.anonExclusive)
        let slot = f.world.pteSlot(f.p.mm, Fixture.base)!
        f.world.setPTE(slot, f.world.pte(slot).withWrite(true))
        expectCaught(.writablePTEImpliesExclusive, f)
    }

    @Test func sharedPageMarkedExclusive() async throws {
        let (f, _) = try await healthy()
        f.world.memory.set(f.page(f.p, Fixture.base + (2 << 20))!, PageFlag.anonExclusive)
        expectCaught(.exclusivePageMappedOnce, f)
    }

    @Test func swapcachePageMarkedExclusive() async throws {
        let (f, c) = try await healthy()
        await f.world.exitMM(c)
        try await f.world.madvise(f.p, addr: Fixture.base, size: Geometry.pageSize, advice: .pageout)
        let slot = f.pte(f.p, Fixture.base).swapSlot
        #expect(f.violated().isEmpty)
        f.world.memory.set(PFN(f.world.swap.cache[slot]), PageFlag.anonExclusive)
        expectCaught(.swapPageNotExclusive, f)
    }

    func pinned(_ f: Fixture, _ addr: UInt64) async throws -> PFN {
        let pages = try await f.world.pin(f.p, id: "pin", addr: addr, flags: [.pin, .longterm])
        return pages[0]
    }

    @Test func pinnedPageLosesAE() async throws {
        let (f, _) = try await healthy()
        let page = try await pinned(f, Fixture.base + 0x1000)
        #expect(f.violated().isEmpty)
        f.world.memory.clear(page, PageFlag.anonExclusive)
        expectCaught(.pinnedPageExclusive, f)
    }

    @Test func pinnedPageReplacedBehindTheUsersBack() async throws {
        let (f, _) = try await healthy()
        _ = try await pinned(f, Fixture.base + 0x1000)
        let a = f.world.pteSlot(f.p.mm, Fixture.base + 0x1000)!, b = f.world.pteSlot(f.p.mm, Fixture.base + 0x2000)!
        let pa = f.world.pte(a), pb = f.world.pte(b)
        f.world.setPTE(a, pb)
        f.world.setPTE(b, pa)
        expectCaught(.pinStaysMapped, f)
    }

    @Test func missingReference() async throws {
        let (f, _) = try await healthy()
        f.world.memory.addRef(f.folio(f.p, Fixture.base + (1 << 20))!, -1, "test")
        expectCaught(.refcountCoversMappings, f)
    }

    @Test func leakedReference() async throws {
        let (f, _) = try await healthy()
        f.world.memory.folioGet(f.folio(f.p, Fixture.base)!)
        expectCaught(.refcountBalanced, f)
    }

    /// The folio pass has a shortcut for a small folio whose counts agree (CheckFolios.swift);
    /// each disagreement of an order-0 folio must still reach the full comparison.
    @Test func missingReferenceOfASmallFolio() async throws {
        let (f, _) = try await healthy()
        let folio = f.folio(f.p, Fixture.base + Geometry.pageSize)!
        #expect(f.world.memory.order(of: folio) == 0)
        f.world.memory.addRef(folio, -1, "test")
        expectCaught(.refcountCoversMappings, f)
    }

    @Test func wrongMapcountOfASmallFolio() async throws {
        let (f, _) = try await healthy()
        let page = f.page(f.p, Fixture.base + 2 * Geometry.pageSize)!
        #expect(f.world.memory.order(of: f.world.memory.folio(of: page)) == 0)
        f.world.memory.addMapcount(page, 1)
        expectCaught(.mapcountMatchesMappings, f)
    }

    @Test func sharedSmallFolioMarkedExclusive() async throws {
        let (f, _) = try await healthy()
        let page = f.page(f.p, Fixture.base + 3 * Geometry.pageSize)!
        #expect(f.world.memory.order(of: page) == 0)
        f.world.memory.set(page, PageFlag.anonExclusive)
        expectCaught(.exclusivePageMappedOnce, f)
    }

    /// An incremental check settles an order-0 page in its unit pass when the page's first
    /// counted mapping finds mapcount and refcount 1 (CheckUnits.swift, `ChangeWatch.settles`).
    /// P has written four order-0 pages and was checked; the step then writes a fifth.
    func settledPage() async throws -> (Fixture, PTESlot) {
        let f = Fixture()
        f.world.checkStrategy = .audit
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 4 * Geometry.pageSize, 1)
        #expect(f.violated().isEmpty)
        await f.write(f.p, Fixture.base + 5 * Geometry.pageSize, Geometry.pageSize, 5)
        return (f, f.world.pteSlot(f.p.mm, Fixture.base + 5 * Geometry.pageSize)!)
    }

    /// Makes `t`'s PTE at `addr` map `own`'s page as well: `t` writes 5 there (so the RSS
    /// counter and the record of the write agree with the mapping that replaces it), then
    /// its PTE is pointed at the page and its own page freed. Only the folio pass can see
    /// what is wrong: the page is mapped twice with a mapcount and refcount of 1.
    func mapAgain(_ f: Fixture, _ t: SimThread, _ addr: UInt64, _ own: PTESlot) async {
        await f.write(t, addr, Geometry.pageSize, 5)
        let stray = f.world.pteSlot(t.mm, addr)!
        let replaced = f.world.memory.folio(of: f.world.pte(stray).pfn)
        f.world.setPTE(stray, f.world.pte(own))
        f.world.memory.freeFolio(replaced)
    }

    /// Whether the pass counts the second mapping before or after the page's own PTE, the
    /// folio pass must compare the page's counts.
    @Test(arguments: [4, 6]) func strayMappingOfASettledPage(_ strayIndex: Int) async throws {
        let (f, own) = try await settledPage()
        await mapAgain(f, f.p, Fixture.base + UInt64(strayIndex) * Geometry.pageSize, own)
        expectCaught(.mapcountMatchesMappings, f)
        #expect(f.world.checkCounts.fallback == 1, "the incremental check found it and left the report to the full check")
    }

    /// The same from another address space, whose units the pass visits after P's.
    @Test func strayMappingOfASettledPageInAnotherProcess() async throws {
        let (f, own) = try await settledPage()
        let q = f.world.createProcess(name: "Q")!
        try await f.world.mmap(q, addr: Fixture.base, size: 1 << 20, prot: [.read, .write], kind: .privateAnon)
        await mapAgain(f, q, Fixture.base + Geometry.pageSize, own)
        expectCaught(.mapcountMatchesMappings, f)
        #expect(f.world.checkCounts.fallback == 1, "the incremental check found it and left the report to the full check")
    }

    /// A pin taken in the step whose reference went missing: the page's counts look settled
    /// in the unit pass, and only the pin pass knows the pin.
    @Test func newPinWithoutItsReference() async throws {
        let (f, _) = try await settledPage()
        let pages = try await f.world.pin(f.p, id: "pin", addr: Fixture.base + 5 * Geometry.pageSize, flags: [.pin, .longterm])
        f.world.memory.addRef(pages[0], -gupPinCountingBias, "test")
        expectCaught(.refcountCoversMappings, f)
    }

    @Test func wrongMapcount() async throws {
        let (f, _) = try await healthy()
        f.world.memory.addMapcount(f.page(f.p, Fixture.base + (1 << 20) + 0x3000)!, 1)
        expectCaught(.mapcountMatchesMappings, f)
    }

    @Test func wrongLargeMapcount() async throws {
        let (f, _) = try await healthy()
        f.world.memory.withMeta(f.folio(f.p, Fixture.base + (1 << 20))!) { $0.largeMapcount += 1 }
        expectCaught(.mapcountMatchesMappings, f)
    }

    @Test func wrongMMIDOwner() async throws {
        let f = Fixture(sizes: [4: .always])
        try await f.mmapAndFill64K()
        #expect(f.violated().isEmpty)
        f.world.memory.withMeta(f.folio(f.p, Fixture.base)!) { $0.mmId0 = 77 }
        expectCaught(.mmIDOwner, f)
    }

    @Test func writableZeroPage() async throws {
        let (f, _) = try await healthy()
        _ = await f.read(f.p, Fixture.base + (3 << 20))
        let slot = f.world.pteSlot(f.p.mm, Fixture.base + (3 << 20))!
        f.world.setPTE(slot, f.world.pte(slot).withWrite(true))
        expectCaught(.zeroPageReadOnly, f)
    }

    @Test func oddWriteProtectSeq() async throws {
        let (f, _) = try await healthy()
        f.p.mm.writeProtectSeq += 1
        expectCaught(.writeProtectSeq, f)
    }

    @Test func pinWithoutHasPinned() async throws {
        let (f, _) = try await healthy()
        _ = try await pinned(f, Fixture.base + 0x1000)
        f.p.mm.hasPinned = false
        expectCaught(.hasPinnedSet, f)
    }

    @Test func lostWrite() async throws {
        let (f, _) = try await healthy()
        f.world.memory.setData(f.page(f.p, Fixture.base + 0x2000)!, 42)
        expectCaught(.noLostWrite, f)
    }

    @Test func mappedPageFreed() async throws {
        let (f, _) = try await healthy()
        f.world.memory.freeFolio(f.folio(f.p, Fixture.base)!)
        expectCaught(.noUseAfterFree, f)
    }

    @Test func partiallyMappedFolioNotQueued() async throws {
        let (f, c) = try await healthy()
        await f.world.exitMM(c)
        try await f.world.madvise(f.p, addr: Fixture.base + (1 << 20), size: 0x8000, advice: .dontneed)
        #expect(f.violated().isEmpty)
        f.world.memory.clear(f.folio(f.p, Fixture.base + (1 << 20) + 0x8000)!, PageFlag.deferredQueued)
        expectCaught(.deferredSplitQueued, f)
    }

    @Test func rssCounterOff() async throws {
        let (f, _) = try await healthy()
        f.p.mm.rssAnon += 1
        expectCaught(.rssCounters, f)
    }

    @Test func swapCountOff() async throws {
        let (f, _) = try await healthy()
        try await f.world.madvise(f.p, addr: Fixture.base, size: Geometry.pageSize, advice: .pageout)
        let slot = f.pte(f.p, Fixture.base).swapSlot
        f.world.swap.count[slot] += 1
        expectCaught(.swapCount, f)
    }

    @Test func lockLeftHeld() async throws {
        let (f, _) = try await healthy()
        let slot = f.world.pteSlot(f.p.mm, Fixture.base)!
        f.world.tables.setPTLOwner(slot.table, 1)
        expectCaught(.locksReleased, f)
    }

    @Test func violationNamesProcessAddressFolioAndOperation() async throws {
        let (f, _) = try await healthy()
        f.world.currentOperation = "step 7 (write P 0x40000000 4K = 1)"
        f.world.memory.setData(f.page(f.p, Fixture.base + 0x2000)!, 42)
        f.world.checkInvariants()
        let v = try #require(f.world.violations.first)
        #expect(v.invariant == "no-lost-write" && v.process == "P" && v.address == Fixture.base + 0x2000)
        #expect(v.folio == f.folio(f.p, Fixture.base + 0x2000))
        #expect(v.description.contains("after step 7"))
        let count = f.world.violations.count
        #expect(count == 2, "P and C both map the page")
        f.world.checkInvariants()
        #expect(f.world.violations.count == count, "a persisting violation is reported once")
    }
}
