import FolioSimModel
import FolioSimExplore

/// The test functions of tools/testing/selftests/mm/cow.c (6.18), step for step: what the
/// parent and the child do, in the order the test's lock-step pipes force, and what each
/// compares. The child of a test is a forked simulated process; its `exit()` status is the
/// comparison it made.
enum CowResult: Equatable {
    case pass, fail, xfail, skip
    /// `ksft_test_result_skip(msg)`: a skip printed with this message instead of the name.
    case skipWithMessage(String)
}

/// An anonymous test function: `fn(mem, size, is_hugetlb)`.
typealias CowAnonTest = @Sendable (CowEnv, UInt64, UInt64) async throws -> CowResult
/// A non-anonymous test function: `fn(mem, smem, size)`.
typealias CowNonAnonTest = @Sendable (CowEnv, UInt64, UInt64, UInt64) async throws -> CowResult

enum CowCases {
    static let anon: [(desc: String, fn: CowAnonTest)] = [
        ("Basic COW after fork()", { e, m, s in try await cowInParent(e, m, s, mprotect: false, vmsplice: false) }),
        ("Basic COW after fork() with mprotect() optimization", { e, m, s in try await cowInParent(e, m, s, mprotect: true, vmsplice: false) }),
        ("vmsplice() + unmap in child", { e, m, s in try await cowInParent(e, m, s, mprotect: false, vmsplice: true) }),
        ("vmsplice() + unmap in child with mprotect() optimization", { e, m, s in try await cowInParent(e, m, s, mprotect: true, vmsplice: true) }),
        ("vmsplice() before fork(), unmap in parent after fork()", { e, m, s in try await vmspliceInParent(e, m, s, beforeFork: true) }),
        ("vmsplice() + unmap in parent after fork()", { e, m, s in try await vmspliceInParent(e, m, s, beforeFork: false) }),
        ("R/O-mapping a page registered as iouring fixed buffer", { e, m, s in try await iouring(e, m, s, fork: false) }),
        ("fork() with an iouring fixed buffer", { e, m, s in try await iouring(e, m, s, fork: true) }),
        ("R/O GUP pin on R/O-mapped shared page", { e, m, s in try await roPin(e, m, s, .shared, fast: false) }),
        ("R/O GUP-fast pin on R/O-mapped shared page", { e, m, s in try await roPin(e, m, s, .shared, fast: true) }),
        ("R/O GUP pin on R/O-mapped previously-shared page", { e, m, s in try await roPin(e, m, s, .previouslyShared, fast: false) }),
        ("R/O GUP-fast pin on R/O-mapped previously-shared page", { e, m, s in try await roPin(e, m, s, .previouslyShared, fast: true) }),
        ("R/O GUP pin on R/O-mapped exclusive page", { e, m, s in try await roPin(e, m, s, .roExclusive, fast: false) }),
        ("R/O GUP-fast pin on R/O-mapped exclusive page", { e, m, s in try await roPin(e, m, s, .roExclusive, fast: true) }),
    ]

    static let anonTHP: [String] = [
        "Basic COW after fork() when collapsing before fork()",
        "Basic COW after fork() when collapsing after fork() (fully shared)",
        "Basic COW after fork() when collapsing after fork() (lower shared)",
        "Basic COW after fork() when collapsing after fork() (upper shared)",
    ]

    static let nonAnon: [(desc: String, fn: CowNonAnonTest)] = [
        ("Basic COW", { e, m, sm, s in try await basicCOW(e, m, sm, s) }),
        ("R/O longterm GUP pin", { e, m, _, s in try await roPin(e, m, s, .none, fast: false) }),
        ("R/O longterm GUP-fast pin", { e, m, _, s in try await roPin(e, m, s, .none, fast: true) }),
    ]

    /// `do_test_cow_in_parent` with `child_memcmp_fn` or `child_vmsplice_memcmp_fn`: the
    /// child snapshots the memory (and vmsplices and unmaps it), the parent overwrites it,
    /// the child compares what it still sees (or what the pipe returns) with its snapshot.
    static func cowInParent(_ e: CowEnv, _ mem: UInt64, _ size: UInt64, mprotect: Bool, vmsplice: Bool) async throws -> CowResult {
        let child = try await e.fork()
        var childOK: Bool
        let old = try await e.read(child, mem, size)
        var transferred = 0
        var childFailed = false
        if vmsplice {
            do {
                transferred = try await e.world.vmsplice(child, pipe: "child", addr: mem, nrPages: Int(size >> Geometry.pageShift))
                try await e.world.munmap(child, addr: mem, size: size)
            } catch {
                e.messages.append("vmsplice() or munmap() failed in the child: \(error)")
                childFailed = true
            }
        }
        if mprotect {
            try await e.mprotect(e.parent, mem, size, .read)
            try await e.mprotect(e.parent, mem, size, [.read, .write])
        }
        try await e.memset(e.parent, mem, size, 0xff)
        if childFailed {
            childOK = false
        } else if vmsplice {
            let new = await e.world.readPipe(child, pipe: "child") ?? []
            childOK = Array(old.prefix(transferred)) == new
        } else {
            childOK = try await e.read(child, mem, size) == old
        }
        await e.exit(child)
        if childOK { return .pass }
        e.messages.append("Leak from parent into child")
        return .fail
    }

    /// `do_test_vmsplice_in_parent`: the parent vmsplices (before or after fork) and unmaps;
    /// the child overwrites; the pipe must still return the old data.
    static func vmspliceInParent(_ e: CowEnv, _ mem: UInt64, _ size: UInt64, beforeFork: Bool) async throws -> CowResult {
        let old = try await e.read(e.parent, mem, size)
        let n = Int(size >> Geometry.pageShift)
        var transferred = 0
        if beforeFork { transferred = try await splice(e, mem, n) }
        let child = try await e.fork()
        if !beforeFork {
            do {
                transferred = try await splice(e, mem, n)
            } catch {
                await e.exit(child)
                throw error
            }
        }
        try await e.munmap(e.parent, mem, size)
        try await e.memset(child, mem, size, 0xff)
        await e.exit(child)
        let new = await e.world.readPipe(e.parent, pipe: "parent") ?? []
        if Array(old.prefix(transferred)) == new { return .pass }
        e.messages.append("Leak from child into parent")
        return .fail
    }

    private static func splice(_ e: CowEnv, _ mem: UInt64, _ n: Int) async throws -> Int {
        do {
            return try await e.world.vmsplice(e.parent, pipe: "parent", addr: mem, nrPages: n)
        } catch {
            e.messages.append("vmsplice() failed: \(error)")
            throw CowEnv.Crash(message: "vmsplice")
        }
    }

    /// `do_test_iouring`: register the range as a fixed buffer (FOLL_WRITE | FOLL_PIN |
    /// FOLL_LONGTERM), map it R/O (or fork a child that stays), overwrite it, write the
    /// fixed buffer to a file and compare the file with the memory.
    static func iouring(_ e: CowEnv, _ mem: UInt64, _ size: UInt64, fork: Bool) async throws -> CowResult {
        do {
            try await e.world.iouringRegister(e.parent, id: "iouring", addr: mem, nrPages: Int(size >> Geometry.pageShift))
        } catch {
            e.messages.append("io_uring_register_buffers() failed")
            return .skip
        }
        var child: SimThread?
        if fork {
            child = try await e.fork()
        } else {
            try await e.mprotect(e.parent, mem, size, .read)
            await e.world.clearRefsSoftDirty(e.parent)
            try await e.mprotect(e.parent, mem, size, [.read, .write])
        }
        try await e.memset(e.parent, mem, size, 0xff)
        let file = e.world.readPinned(id: "iouring") ?? []
        let now = try await e.read(e.parent, mem, size)
        if let child { await e.exit(child) }
        await e.world.releasePin(id: "iouring", by: e.parent)
        if now == file { return .pass }
        e.messages.append("Longtom R/W pin is not reliable")
        return .fail
    }

    enum ROPinTest { case none, shared, previouslyShared, roExclusive }

    /// `do_test_ro_pin`: share the memory with a child (that stays or quits), or map it R/O
    /// with soft-dirty tracking; take an R/O long-term pin through gup_test; overwrite;
    /// read back through the pin and compare.
    static func roPin(_ e: CowEnv, _ mem: UInt64, _ size: UInt64, _ test: ROPinTest, fast: Bool) async throws -> CowResult {
        var child: SimThread?
        switch test {
        case .none:
            break
        case .shared, .previouslyShared:
            child = try await e.fork()
            if test == .previouslyShared {
                await e.exit(child!)
                child = nil
            }
        case .roExclusive:
            try await e.mprotect(e.parent, mem, size, .read)
            await e.world.clearRefsSoftDirty(e.parent)
            try await e.mprotect(e.parent, mem, size, [.read, .write])
        }
        do {
            try await e.world.gupTestPin(e.parent, id: "gup_test", addr: mem, nrPages: Int(size >> Geometry.pageShift), fast: fast)
        } catch {
            e.messages.append("PIN_LONGTERM_TEST_START failed: \(error)")
            if let child { await e.exit(child) }
            if case .einval = error { return .skip }
            return .fail
        }
        try await e.memset(e.parent, mem, size, 0xff)
        let pinned = e.world.readPinned(id: "gup_test") ?? []
        let now = try await e.read(e.parent, mem, size)
        await e.world.releasePin(id: "gup_test", by: e.parent)
        if let child { await e.exit(child) }
        if now == pinned { return .pass }
        e.messages.append("Longterm R/O pin is not reliable")
        return .fail
    }

    /// `test_cow`: writing the private mapping must not change the other mapping.
    static func basicCOW(_ e: CowEnv, _ mem: UInt64, _ smem: UInt64, _ size: UInt64) async throws -> CowResult {
        let old = try await e.read(e.parent, smem, size)
        try await e.memset(e.parent, mem, size, 0xff)
        if try await e.read(e.parent, smem, size) == old { return .pass }
        e.messages.append("Other mapping modified")
        return .fail
    }
}
