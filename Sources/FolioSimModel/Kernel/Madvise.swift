/// madvise advice that FolioSim models.
package enum Advice: String, Hashable, Sendable, CaseIterable {
    case hugepage, nohugepage, dontneed, dontfork, dofork, wipeonfork, keeponfork, pageout
}

/// madvise (mm/madvise.c): flag advice splits VMAs and updates `vm_flags`
/// (`madvise_update_vma`, `hugepage_madvise`); MADV_DONTNEED zaps
/// (`madvise_dontneed_single_vma`); MADV_PAGEOUT reclaims to swap (Swap.swift).
/// Left out: MADV_FREE, MADV_COLLAPSE, MADV_POPULATE_*, process_madvise.
extension World {
    package func madvise(_ t: SimThread, addr: UInt64, size: UInt64, advice: Advice) async throws(MMError) {
        try checkRange(addr, size)
        let kind: UserActivity.Kind? = advice == .dontneed ? .unmap : advice == .pageout ? .pageout : nil
        let change = kind.map { userActivity.begin(mm: t.mm.index, addr, addr + size, $0) }
        let error = await madviseRange(t, addr: addr, size: size, advice: advice)
        if let change { userActivity.end(change) }
        if let error { throw error }
    }

    /// `do_madvise` over a checked range; returns the error to report.
    private func madviseRange(_ t: SimThread, addr: UInt64, size: UInt64, advice: Advice) async -> MMError? {
        let mm = t.mm
        let end = addr + size
        switch advice {
        case .dontneed, .pageout:
            await mmapReadLock(t, mm)
        default:
            await mmapWriteLock(t, mm)
        }
        var unmapped = false
        var a = addr
        var error: MMError?
        while a < end {
            let i = mm.firstVMA(endingAfter: a)
            guard i < mm.vmas.count, mm.vmas[i].start < end else { unmapped = true; break }
            if mm.vmas[i].start > a { unmapped = true }
            let v = mm.vmas[i]
            let s = max(a, v.start), e = min(end, v.end)
            switch advice {
            case .dontneed:
                if v.flags.contains(.locked) || v.flags.contains(.pfnMap) {
                    error = .einval("MADV_DONTNEED on a locked or PFN-mapped VMA")
                } else {
                    await zapRange(t, mm, v, s, e)
                }
            case .pageout:
                await madvisePageout(t, mm, v, s, e)
            case .wipeonfork where !v.isAnonymous || v.flags.contains(.shared):
                error = .einval("MADV_WIPEONFORK needs a private anonymous mapping")
            default:
                var flags = v.flags
                switch advice {
                case .hugepage: flags.insert(.hugepage); flags.remove(.noHugepage)
                case .nohugepage: flags.insert(.noHugepage); flags.remove(.hugepage)
                case .dontfork: flags.insert(.dontCopy)
                case .dofork: flags.remove(.dontCopy)
                case .wipeonfork: flags.insert(.wipeOnFork)
                case .keeponfork: flags.remove(.wipeOnFork)
                case .dontneed, .pageout: break
                }
                if flags != v.flags { _ = await vmaModifyFlags(t, mm, s, e, flags) }
            }
            a = e
        }
        switch advice {
        case .dontneed, .pageout:
            await mmapReadUnlock(t, mm)
        default:
            mm.mergeVMAs()
            await mmapWriteUnlock(t, mm)
        }
        trace(t, "do_madvise", "MADV_\(advice.rawValue.uppercased()) \(VirtualAddress(addr))–\(VirtualAddress(end))")
        if let error { return error }
        return unmapped ? .enomem("part of the madvise range is not mapped") : nil
    }
}
