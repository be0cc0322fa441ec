import FolioSimModel
import FolioSimExplore

/// The user-space side of one cow.c test: a fresh world with swap, the test process and the
/// syscalls it makes. Each helper is what the C code does with `memset`, `memcpy`, `mmap`,
/// `madvise`, `fork`, `vmsplice`, the gup_test ioctls and io_uring; every access goes
/// through the simulated page tables, so a read can fault (and swap in) as in the kernel.
final class CowEnv {
    let world: World
    let parent: SimThread
    /// Diagnostics (`# …` lines) the test printed before its result.
    var messages: [String] = []
    private var children = 0

    /// Where the test's mappings go: the kernel would pick them; these are fixed and
    /// PMD-aligned, as 6.7+ aligns large anonymous mappings.
    static let memBase: UInt64 = 0x4000_0000
    static let otherBase: UInt64 = 0x8000_0000
    static let memoryBytes: UInt64 = 64 << 20
    static let swapBytes: UInt64 = 64 << 20

    init(semantics: Semantics, thp: THPSettings) {
        world = World(memoryBytes: Self.memoryBytes, swapBytes: Self.swapBytes, semantics: semantics, thp: thp)
        parent = world.createProcess(name: "P")!
    }

    struct Crash: Error {
        var message: String
    }

    func mmapAnon(_ t: SimThread, _ addr: UInt64, _ size: UInt64, _ prot: Prot) async throws {
        try await syscall("mmap") { () async throws(MMError) in try await world.mmap(t, addr: addr, size: size, prot: prot, kind: .privateAnon) }
    }

    func mmapFile(_ t: SimThread, _ addr: UInt64, _ size: UInt64, _ prot: Prot, file: Int, shared: Bool) async throws {
        let kind: MapKind = shared ? .sharedFile(file: file, pgoff: 0) : .privateFile(file: file, pgoff: 0)
        try await syscall("mmap") { () async throws(MMError) in try await world.mmap(t, addr: addr, size: size, prot: prot, kind: kind) }
    }

    func munmap(_ t: SimThread, _ addr: UInt64, _ size: UInt64) async throws {
        try await syscall("munmap") { () async throws(MMError) in try await world.munmap(t, addr: addr, size: size) }
    }

    func mprotect(_ t: SimThread, _ addr: UInt64, _ size: UInt64, _ prot: Prot) async throws {
        try await syscall("mprotect") { () async throws(MMError) in try await world.mprotect(t, addr: addr, size: size, prot: prot) }
    }

    func madvise(_ t: SimThread, _ addr: UInt64, _ size: UInt64, _ advice: Advice) async throws {
        try await syscall("madvise") { () async throws(MMError) in try await world.madvise(t, addr: addr, size: size, advice: advice) }
    }

    func mremap(_ t: SimThread, _ from: UInt64, _ size: UInt64, to: UInt64) async throws {
        try await syscall("mremap") { () async throws(MMError) in try await world.mremap(t, from: from, size: size, to: to) }
    }

    func fork() async throws -> SimThread {
        children += 1
        let name = children == 1 ? "C" : "C\(children)"
        do {
            return try await world.fork(parent, childName: name)
        } catch {
            messages.append("fork() failed: \(error)")
            throw Crash(message: "fork")
        }
    }

    /// The child's `exit()`; its address space goes away (`exit_mmap`).
    func exit(_ t: SimThread) async { await world.exitMM(t) }

    /// `memset(mem, value, size)`: one store per page.
    func memset(_ t: SimThread, _ addr: UInt64, _ size: UInt64, _ value: UInt32) async throws {
        for a in stride(from: addr, to: addr + size, by: Int(Geometry.pageSize)) {
            try check(await world.access(t, a, write: true, value: value), t, a)
        }
    }

    /// `memcpy(buf, mem, size)`: the data of every page.
    func read(_ t: SimThread, _ addr: UInt64, _ size: UInt64) async throws -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(Int(size >> Geometry.pageShift))
        for a in stride(from: addr, to: addr + size, by: Int(Geometry.pageSize)) {
            let r = await world.access(t, a, write: false)
            try check(r, t, a)
            if case .ok(let v) = r { out.append(v) }
        }
        return out
    }

    private func check(_ r: AccessResult, _ t: SimThread, _ a: UInt64) throws {
        switch r {
        case .ok: return
        case .segv: throw Crash(message: "\(t.name): SIGSEGV at 0x\(String(a, radix: 16))")
        case .bus: throw Crash(message: "\(t.name): SIGBUS at 0x\(String(a, radix: 16))")
        case .oom: throw Crash(message: "\(t.name): out of memory at 0x\(String(a, radix: 16))")
        }
    }

    /// `pagemap_is_populated`: present or swapped out.
    func isPopulated(_ t: SimThread, _ addr: UInt64) -> Bool {
        if world.pmdEntry(t.mm, addr).isHuge { return true }
        let p = world.readPTE(t.mm, addr)
        return p.isPresent || p.isSwap
    }

    /// `range_is_swapped`: every page's PTE is a swap entry.
    func isSwapped(_ t: SimThread, _ addr: UInt64, _ size: UInt64) -> Bool {
        stride(from: addr, to: addr + size, by: Int(Geometry.pageSize)).allSatisfy {
            !world.pmdEntry(t.mm, $0).isHuge && world.readPTE(t.mm, $0).isSwap
        }
    }

    /// Runs a syscall; a failure is the test's `ksft_perror` line and ends the test.
    private func syscall(_ name: String, _ body: () async throws(MMError) -> Void) async throws {
        do {
            try await body()
        } catch {
            messages.append("\(name)() failed: \(error)")
            throw Crash(message: name)
        }
    }
}
