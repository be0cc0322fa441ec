/// Kernel function names as each release spells them, for traces: a v5.9 trace says
/// `gup_pte_range` and `put_page` where a v6.18 trace says `gup_fast_pte_range` and
/// `folio_put`. Kernel paths name themselves with their 6.18 names (or Swift names that
/// `swiftToKernel` maps); `name(in:release:)` rewrites every name of a trace line that a
/// later release introduced. Each rename lists the first release with the new name; the
/// sources behind each are in KERNEL-NOTES.md ("Function names").
enum KernelNames {
    /// Swift functions whose kernel counterpart has another name than the snake-cased one.
    static let swiftToKernel: [String: String] = [
        "exitMM": "exit_mmap",
        "access": "do_user_addr_fault",
        "getUserPages": "__get_user_pages",
        "getUserPagesFast": "gup_fast_fallback",
        "gupFastOne": "gup_fast_pte_range",
        "fork": "dup_mmap",
        "zapPTERange": "zap_pte_range",
        "madvisePageout": "madvise_cold_or_pageout_pte_range",
        "followPage": "follow_page_pte",
        "wpCanReuseByRefcount": "wp_can_reuse_anon_folio",
        "mmap": "mmap_region",
        "madvise": "do_madvise",
        "mprotect": "do_mprotect_pkey",
        "munmap": "do_vmi_munmap",
        "tryToUnmapOne": "try_to_unmap_one",
        "reclaimPages": "shrink_folio_list",
        "vmfPTEAlloc": "__pte_alloc",
        "pteAlloc": "__pte_alloc",
        "pteAllocLocked": "__pte_alloc",
        "splitHugePMD": "__split_huge_pmd",
        "doHugePMDWPPage": "do_huge_pmd_wp_page",
        "doHugePMDAnonymousPage": "do_huge_pmd_anonymous_page",
        "clearRefsSoftDirty": "clear_refs_write",
        "readPipe": "pipe_read",
        "releasePin": "unpin_user_pages",
        "unmapLocked": "do_vmi_munmap",
        "copyPTERange": "copy_pte_range",
        "copyHugePMD": "copy_huge_pmd",
        "copyPageRange": "copy_page_range",
        "zapHugePMD": "zap_huge_pmd",
        "changeProtection": "change_protection",
        "handleMMFault": "handle_mm_fault",
        "tableFreeSync": "free_pgtables",
    ]

    /// (the 6.18 name, the first release that has it, the name before). Applied newest
    /// first, so a name renamed twice goes back through both.
    static let renames: [(name: String, since: Int, before: String)] = [
        ("gup_fast_fallback", 610, "internal_get_user_pages_fast"),
        ("gup_fast_pte_range", 610, "gup_pte_range"),
        ("gup_fast_pmd_range", 610, "gup_pmd_range"),
        ("gup_fast_pmd_leaf", 610, "gup_huge_pmd"),
        ("gup_fast", 610, "lockless_pages_from_mm"),
        ("lockless_pages_from_mm", 516, "internal_get_user_pages_fast"),
        ("try_grab_folio_fast", 610, "try_grab_folio"),
        ("try_grab_folio", 601, "try_grab_compound_head"),
        ("follow_huge_pmd", 607, "follow_trans_huge_pmd"),
        ("folio_try_share_anon_rmap_pte", 609, "page_try_share_anon_rmap"),
        ("folio_try_dup_anon_rmap_ptes", 609, "page_try_dup_anon_rmap"),
        ("folio_try_dup_anon_rmap_pte", 609, "page_try_dup_anon_rmap"),
        ("folio_try_dup_anon_rmap_pmd", 609, "page_try_dup_anon_rmap"),
        ("page_try_dup_anon_rmap", 519, "page_dup_rmap"),
        ("copy_present_ptes", 609, "copy_present_pte"),
        ("shrink_folio_list", 602, "shrink_page_list"),
        ("folio_free_swap", 601, "try_to_free_swap"),
        ("swap_cache_get_folio", 602, "lookup_swap_cache"),
        ("do_vmi_munmap", 602, "do_mas_munmap"),
        ("do_mas_munmap", 601, "__do_munmap"),
        ("wp_can_reuse_anon_folio", 605, "do_wp_page"),
        ("folio_add_new_anon_rmap", 603, "page_add_new_anon_rmap"),
        ("folio_maybe_dma_pinned", 519, "page_maybe_dma_pinned"),
        ("split_folio", 519, "split_huge_page"),
        ("folio_trylock", 516, "trylock_page"),
        ("folio_lock", 516, "lock_page"),
        ("folio_unlock", 516, "unlock_page"),
        ("folio_put", 516, "put_page"),
        ("folio_get", 516, "get_page"),
        ("folio_ref_add", 516, "page_ref_add"),
        ("folio_try_get", 516, "page_cache_get_speculative"),
        ("filemap_get_folio", 516, "find_get_page"),
    ]

    /// The kernel name of a Swift function name from `#function` (`doWPPage(_:_:)` →
    /// `do_wp_page`); kernel names pass through unchanged.
    static func kernelName(_ s: StaticString) -> String {
        var name = s.description
        if let p = name.firstIndex(of: "(") { name = String(name[..<p]) }
        if let mapped = swiftToKernel[name] { return mapped }
        guard name.contains(where: { $0.isUppercase }) else { return name }
        var out = ""
        let chars = Array(name)
        for (i, c) in chars.enumerated() {
            if c.isUppercase {
                let prevLower = i > 0 && (chars[i - 1].isLowercase || chars[i - 1].isNumber)
                let nextLower = i + 1 < chars.count && chars[i + 1].isLowercase && !(i + 2 == chars.count && chars[i + 1] == "s")
                    && !(i + 2 < chars.count && chars[i + 1] == "s" && chars[i + 2].isUppercase)
                let prevUpper = i > 0 && chars[i - 1].isUppercase
                if i > 0 && (prevLower || (prevUpper && nextLower)) && !out.hasSuffix("_") { out += "_" }
                out += c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// `text` with every kernel name a release after `release` introduced replaced by the
    /// name it had in `release` (whole identifiers only).
    static func name(in text: String, release: Int) -> String {
        guard release < 618 else { return text }
        var out = text
        for r in renames where release < r.since && out.contains(r.name) {
            out = replaceIdentifier(r.name, with: r.before, in: out)
        }
        return out
    }

    /// Replaces whole identifiers (not parts of longer ones).
    private static func replaceIdentifier(_ name: String, with new: String, in text: String) -> String {
        func isIdent(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
        var out = ""
        var rest = Substring(text)
        while let r = rest.range(of: name) {
            let before = r.lowerBound == rest.startIndex ? (out.last.map(isIdent) ?? false) : isIdent(rest[rest.index(before: r.lowerBound)])
            let after = r.upperBound < rest.endIndex && isIdent(rest[r.upperBound])
            out += rest[..<r.lowerBound]
            out += before || after ? name : new
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension World {
    /// The name of kernel function `fn` in the release of the rules in force.
    func kernelName(_ fn: StaticString) -> String {
        KernelNames.name(in: KernelNames.kernelName(fn), release: semantics.release)
    }
}
