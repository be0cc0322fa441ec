import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

@Suite(.enabled(if: Tier.fast)) struct GUPTests {
    func pin(_ f: Fixture, _ t: SimThread, _ addr: UInt64, _ flags: GUPFlags, fast: Bool = false) async throws -> PFN {
        try await f.world.pin(t, id: "p\(f.world.pins.count)", addr: addr, flags: flags, fast: fast)[0]
    }

    @Test func roPinOnSharedPageUnsharesAndStaysCoherent() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 1)
        let shared = f.page(f.p, Fixture.base)
        let c = try await f.world.fork(f.p, childName: "C")
        let pinned = try await pin(f, f.p, Fixture.base, [.pin, .longterm])
        #expect(pinned != shared, "unshare gave the parent a private copy")
        #expect(f.stats(f.p).faults(.unshare) == 1)
        #expect(!f.pte(f.p, Fixture.base).isWritable, "an unshare never maps writable")
        #expect(f.world.memory.anonExclusive(pinned))
        #expect(f.p.mm.hasPinned)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 2)
        #expect(f.world.memory.data(pinned) == 2, "the later write is visible through the pin")
        #expect(await f.read(c, Fixture.base) == 1)
        #expect(f.violated().isEmpty)
    }

    @Test func roPinOnExclusiveReadOnlyPageNeedsNoCopy() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 1)
        let page = f.page(f.p, Fixture.base)!
        let c = try await f.world.fork(f.p, childName: "C")
        await f.world.exitMM(c)
        let pinned = try await pin(f, f.p, Fixture.base, [.pin, .longterm])
        #expect(pinned == page)
        #expect(f.stats(f.p).faults(.unshare) == 1, "reuse by unshare: AE set, PTE read-only")
        #expect(f.stats(f.p).cowCopiedBytes == 0)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 3)
        #expect(f.page(f.p, Fixture.base) == page)
        #expect(f.world.memory.data(pinned) == 3)
        #expect(f.violated().isEmpty)
    }

    @Test func longtermPinOfZeroPageUnsharesShortTermDoesNot() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        _ = await f.read(f.p, Fixture.base)
        _ = await f.read(f.p, Fixture.base + 0x1000)
        let short = try await pin(f, f.p, Fixture.base + 0x1000, [.pin])
        #expect(short == f.world.memory.zeroPFN)
        #expect(f.world.memory.refcount(f.world.memory.zeroPFN) == 1, "pins on the zero page are not counted")
        let long = try await pin(f, f.p, Fixture.base, [.pin, .longterm])
        #expect(long != f.world.memory.zeroPFN)
        #expect(f.world.memory.isAnon(long) && f.world.memory.anonExclusive(long))
        #expect(!f.pte(f.p, Fixture.base).isWritable)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 4)
        await f.write(f.p, Fixture.base + 0x1000, Geometry.pageSize, 4)
        #expect(f.world.memory.data(long) == 4)
        #expect(f.world.memory.data(short) == 0, "a short-term R/O pin need not follow later writes")
        #expect(f.violated().isEmpty)
    }

    @Test func before62ZeroPagePinStaysStale() async throws {
        var sem = Semantics.v6_18
        sem.roPin = .unshareAnon
        let f = Fixture(semantics: sem)
        try await f.mmap(1 << 20)
        let p = try await pin(f, f.p, Fixture.base, [.pin, .longterm])
        #expect(p == f.world.memory.zeroPFN)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 4)
        #expect(f.world.memory.data(p) == 0)
    }

    @Test func longtermPinOfPrivateFilePageUnshares() async throws {
        let f = Fixture()
        let file = f.world.fileIndex(named: "data", kind: .memfd)
        try await f.mmap(1 << 20, kind: .privateFile(file: file, pgoff: 0))
        _ = await f.read(f.p, Fixture.base)
        #expect(f.p.mm.rssFile == 1)
        let p = try await pin(f, f.p, Fixture.base, [.pin, .longterm])
        #expect(f.world.memory.isAnon(p))
        #expect(f.p.mm.rssFile == 0 && f.p.mm.rssAnon == 1)
        #expect(f.violated().isEmpty)
    }

    @Test func followGetDoesNotUnshare() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, Geometry.pageSize, 1)
        let c = try await f.world.fork(f.p, childName: "C")
        let ref = try await pin(f, f.p, Fixture.base, [.get])
        #expect(ref == f.page(c, Fixture.base))
        await f.write(f.p, Fixture.base, Geometry.pageSize, 2)
        #expect(f.world.memory.data(ref) == 1, "COW can break either way for FOLL_GET")
        #expect(f.violated().isEmpty)
    }

    @Test func forcedWriteIntoReadOnlyPrivateMapping() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20, prot: [.read])
        _ = await f.read(f.p, Fixture.base)
        let p = try await f.world.getUserPages(f.p, addr: Fixture.base, nrPages: 1, flags: [.get, .write, .force])
        let e = f.pte(f.p, Fixture.base)
        #expect(!e.isWritable && e.isDirty, "COW broken for the forced write; the VMA forbids write, so the PTE stays read-only")
        #expect(f.stats(f.p).faults(.wpCopy) == 1)
        #expect(f.world.memory.anonExclusive(p[0]))
        await f.world.unpinUserPages(nil, p, flags: [.get], mm: f.p.mm)
        await #expect(throws: MMError.self) {
            _ = try await f.world.getUserPages(f.p, addr: Fixture.base, nrPages: 1, flags: [.get, .write])
        }
        #expect(f.violated().isEmpty)
    }

    @Test func invalidFlagCombinationsAreRejected() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await #expect(throws: MMError.self) { _ = try await f.world.getUserPages(f.p, addr: Fixture.base, nrPages: 1, flags: [.get, .pin]) }
        await #expect(throws: MMError.self) { _ = try await f.world.getUserPages(f.p, addr: Fixture.base, nrPages: 1, flags: [.get, .longterm]) }
        await #expect(throws: MMError.self) { _ = try await f.world.getUserPages(f.p, addr: 0x1000, nrPages: 1, flags: [.pin]) }
    }

    @Test func unpinReturnsTheReferences() async throws {
        let f = Fixture(sizes: [4: .always])
        try await f.mmapAndFill64K()
        _ = try await pin(f, f.p, Fixture.base, [.pin, .write])
        await f.write(f.p, Fixture.base + (64 << 10))
        _ = try await pin(f, f.p, Fixture.base + (64 << 10), [.pin])
        let large = f.folio(f.p, Fixture.base)!, small = f.folio(f.p, Fixture.base + (64 << 10))!
        #expect(f.world.memory.meta(large).pincount == 1 && f.world.memory.refcount(large) == 17)
        #expect(f.world.memory.refcount(small) == 16 + 1 || f.world.memory.refcount(small) == 1 + 1024)
        #expect(f.world.memory.maybeDMAPinned(large) && f.world.memory.maybeDMAPinned(small))
        await f.world.releasePin(id: "p0")
        await f.world.releasePin(id: "p1")
        #expect(!f.world.memory.maybeDMAPinned(large) && !f.world.memory.maybeDMAPinned(small))
        #expect(f.p.mm.hasPinned, "MMF_HAS_PINNED is never cleared")
        #expect(f.violated().isEmpty)
    }

    @Test func gupFastPinsWritablePagesAndFallsBackForShared() async throws {
        let f = Fixture()
        try await f.mmap(1 << 20)
        await f.write(f.p, Fixture.base, 2 * Geometry.pageSize, 1)
        let faults = f.stats(f.p).faultsTotal
        let fast = try await pin(f, f.p, Fixture.base, [.pin, .longterm], fast: true)
        #expect(fast == f.page(f.p, Fixture.base))
        #expect(f.stats(f.p).faultsTotal == faults, "a writable PTE is pinned without a fault")
        _ = try await f.world.fork(f.p, childName: "C")
        let slow = try await pin(f, f.p, Fixture.base + 0x1000, [.pin, .longterm], fast: true)
        #expect(f.stats(f.p).faults(.unshare) == 1, "the shared page made GUP-fast back off (B5); the slow path unshared it")
        #expect(slow == f.page(f.p, Fixture.base + 0x1000))
        #expect(f.violated().isEmpty)
    }
}
