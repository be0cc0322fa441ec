import FolioSimModel
import FolioSimExplore

/// The memory-type runners of cow.c (`run_with_*`, `do_run_with_base_page`,
/// `do_run_with_thp`): how the memory a test gets was set up. FolioSim reads the memory where
/// the test means to (`FORCE_READ(*mem)`), as cow.c does since bce1dabd310e (7.0, in 6.18.y);
/// the 6.18.0 source read the pointer instead, so its huge-zeropage rows always skip.
/// hugetlb is not modelled: its rows skip with that reason.
enum CowRunners {
    enum THPRun { case pmd, pmdSwapout, pte, pteSwapout, singlePTE, singlePTESwapout, partialMremap, partialShared }

    static func thpDesc(_ run: THPRun, _ kb: UInt64) -> String {
        switch run {
        case .pmd: "THP (\(kb) kB)"
        case .pmdSwapout: "swapped-out THP (\(kb) kB)"
        case .pte: "PTE-mapped THP (\(kb) kB)"
        case .pteSwapout: "swapped-out, PTE-mapped THP (\(kb) kB)"
        case .singlePTE: "single PTE of THP (\(kb) kB)"
        case .singlePTESwapout: "single PTE of swapped-out THP (\(kb) kB)"
        case .partialMremap: "partially mremap()'ed THP (\(kb) kB)"
        case .partialShared: "partially shared THP (\(kb) kB)"
        }
    }

    /// `do_run_with_base_page`: one page, MADV_NOHUGEPAGE, filled with 1; optionally paged out.
    static func basePage(_ e: CowEnv, swapout: Bool, _ fn: CowAnonTest) async throws -> CowResult {
        let p = e.parent, mem = CowEnv.memBase, size = Geometry.pageSize
        try await e.mmapAnon(p, mem, size, [.read, .write])
        try await e.madvise(p, mem, size, .nohugepage)
        try await e.memset(p, mem, size, 1)
        if swapout {
            try await e.madvise(p, mem, size, .pageout)
            if !e.isSwapped(p, mem, size) {
                e.messages.append("MADV_PAGEOUT did not work, is swap enabled?")
                return .skip
            }
        }
        return try await fn(e, mem, size)
    }

    /// `do_run_with_thp`: a THP of `thpSize` at a `thpSize`-aligned address inside a mapping
    /// twice as large, filled with 1, then PTE-mapped, cut down to one PTE, half mremap()'ed
    /// or partially shared with a child that quits, and optionally paged out.
    static func thp(_ e: CowEnv, _ run: THPRun, _ thpSize: UInt64, _ fn: CowAnonTest) async throws -> CowResult {
        let p = e.parent, page = Geometry.pageSize
        let mmapMem = CowEnv.memBase, mmapSize = 2 * thpSize
        try await e.mmapAnon(p, mmapMem, mmapSize, [.read, .write])
        let mem = mmapMem + thpSize
        try await e.madvise(p, mem, thpSize, .hugepage)
        try await e.memset(p, mem, page, 1)
        if !e.isPopulated(p, mem + thpSize - page) {
            e.messages.append("Did not get a THP populated")
            return .skip
        }
        try await e.memset(p, mem, thpSize, 1)
        var size = thpSize
        switch run {
        case .pmd, .pmdSwapout:
            break
        case .pte, .pteSwapout:
            try await e.mprotect(p, mem + page, page, .read)
            try await e.mprotect(p, mem + page, page, [.read, .write])
        case .singlePTE, .singlePTESwapout:
            try await e.madvise(p, mem + page, thpSize - page, .dontneed)
            size = page
        case .partialMremap:
            let half = thpSize / 2
            try await e.mmapAnon(p, CowEnv.otherBase, half, .none)
            try await e.mremap(p, mem + half, half, to: CowEnv.otherBase)
            size = half
        case .partialShared:
            try await e.madvise(p, mem + page, thpSize - page, .dontfork)
            let child = try await e.fork()
            await e.exit(child)
            try await e.madvise(p, mem + page, thpSize - page, .dofork)
        }
        switch run {
        case .pmdSwapout, .pteSwapout, .singlePTESwapout:
            try await e.madvise(p, mem, size, .pageout)
            if !e.isSwapped(p, mem, size) {
                e.messages.append("MADV_PAGEOUT did not work, is swap enabled?")
                return .skip
            }
        default:
            break
        }
        return try await fn(e, mem, size)
    }

    /// `run_with_zeropage`: a private anonymous page and a read-only one, both read, so
    /// both map the shared zero page.
    static func zeropage(_ e: CowEnv, _ fn: CowNonAnonTest) async throws -> CowResult {
        let p = e.parent, size = Geometry.pageSize
        let mem = CowEnv.memBase, smem = CowEnv.otherBase
        try await e.mmapAnon(p, mem, size, [.read, .write])
        try await e.mmapAnon(p, smem, size, .read)
        _ = try await e.read(p, mem, size)
        _ = try await e.read(p, smem, size)
        return try await fn(e, mem, smem, size)
    }

    /// `run_with_huge_zeropage`: two PMD-sized MADV_HUGEPAGE regions, read, so both map the
    /// huge zero page.
    static func hugeZeropage(_ e: CowEnv, _ fn: CowNonAnonTest) async throws -> CowResult {
        guard e.world.thp.useZeroPage else {
            e.messages.append("Huge zeropage not enabled")
            return .skip
        }
        let p = e.parent, pmd = Geometry.pmdSize
        let mem = CowEnv.memBase + pmd, smem = CowEnv.otherBase + pmd
        try await e.mmapAnon(p, CowEnv.memBase, 2 * pmd, [.read, .write])
        try await e.mmapAnon(p, CowEnv.otherBase, 2 * pmd, .read)
        try await e.madvise(p, mem, pmd, .hugepage)
        try await e.madvise(p, smem, pmd, .hugepage)
        _ = try await e.read(p, mem, Geometry.pageSize)
        _ = try await e.read(p, smem, Geometry.pageSize)
        if !e.isPopulated(p, mem + Geometry.pageSize) || !e.isPopulated(p, smem + Geometry.pageSize) {
            return .skipWithMessage("Did not get THPs populated")
        }
        return try await fn(e, mem, smem, pmd)
    }

    /// `run_with_memfd` / `run_with_tmpfile`: one fallocated page of a memfd (shmem) or a
    /// file, mapped private writable and shared read-only, both read.
    static func file(_ e: CowEnv, kind: FileKind, _ fn: CowNonAnonTest) async throws -> CowResult {
        let p = e.parent, size = Geometry.pageSize
        let mem = CowEnv.memBase, smem = CowEnv.otherBase
        let file = e.world.fileIndex(named: "test", kind: kind)
        try await e.mmapFile(p, mem, size, [.read, .write], file: file, shared: false)
        try await e.mmapFile(p, smem, size, .read, file: file, shared: true)
        _ = try await e.read(p, mem, size)
        _ = try await e.read(p, smem, size)
        return try await fn(e, mem, smem, size)
    }
}
