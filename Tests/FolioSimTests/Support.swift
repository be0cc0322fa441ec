import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// A small world for kernel-path tests: one process with one private anon mapping.
struct Fixture {
    let world: World
    let p: SimThread
    static let base: UInt64 = 0x4000_0000

    /// `sizes` maps an order to its sysfs setting; the top level is `enabled`.
    init(memory: UInt64 = 64 << 20, swap: UInt64 = 0, enabled: THPEnabled = .never, sizes: [Int: THPSizeSetting] = [:],
         semantics: Semantics = .v6_18) {
        var thp = THPSettings(enabled: enabled)
        thp.perOrder[Geometry.pmdOrder] = .never
        for (o, s) in sizes { thp.perOrder[o] = s }
        world = World(memoryBytes: memory, swapBytes: swap, semantics: semantics, thp: thp)
        p = world.createProcess(name: "P")!
    }

    func mmap(_ size: UInt64, at addr: UInt64 = base, prot: Prot = [.read, .write], kind: MapKind = .privateAnon) async throws {
        try await world.mmap(p, addr: addr, size: size, prot: prot, kind: kind)
    }

    /// A 1 MiB anon mapping at `base` whose first 64 KiB are written with 1 (one 64K folio
    /// when 64K mTHP is on).
    func mmapAndFill64K() async throws {
        try await mmap(1 << 20)
        await write(p, Fixture.base, 64 << 10, 1)
    }

    @discardableResult
    func write(_ t: SimThread, _ addr: UInt64, _ size: UInt64 = Geometry.pageSize, _ value: UInt32 = 1) async -> AccessResult {
        var last = AccessResult.ok(0)
        var a = addr
        while a < addr + size {
            last = await world.access(t, a, write: true, value: value)
            if case .ok = last {} else { return last }
            a += Geometry.pageSize
        }
        return last
    }

    func read(_ t: SimThread, _ addr: UInt64) async -> UInt32? {
        if case .ok(let v) = await world.access(t, addr, write: false) { return v }
        return nil
    }

    func pte(_ t: SimThread, _ addr: UInt64) -> PTE { world.readPTE(t.mm, addr) }
    func page(_ t: SimThread, _ addr: UInt64) -> PFN? { world.mappedPage(t.mm, addr) }
    func folio(_ t: SimThread, _ addr: UInt64) -> PFN? { page(t, addr).map { world.memory.folio(of: $0) } }
    func stats(_ t: SimThread) -> ProcessStats { t.mm.stats }

    /// Runs the checker and returns the names of the invariants that failed.
    func violated() -> [String] {
        world.checkInvariants()
        return world.violations.map(\.invariant)
    }
}

/// Loads and runs a config given as text.
func runConfig(_ text: String, file: String = "test.json5") async throws -> RunResult {
    let s = try Scenario.decode(text: text, file: file)
    return await ExperimentRunner.run(s)
}

/// The package root (for Experiments/ and the built CLI).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
