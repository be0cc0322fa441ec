/// Kernel function names as each release spells them, for traces: a v5.9 trace says
/// `gup_pte_range` and `put_page` where a v6.18 trace says `gup_fast_pte_range` and
/// `folio_put`. Kernel paths name themselves with their 6.18 names (or Swift names that
/// `swiftToKernel` maps); `name(in:release:)` rewrites every name of a trace line that a
/// later release introduced. Each rename lists the first release with the new name; the
/// sources behind each are in KERNEL-NOTES.md ("Function names").
package enum KernelNames {
    /// Swift functions whose kernel counterpart has another name than the snake-cased one.
    static let swiftToKernel: [String: String] = [
        "exitMM": "exit_mmap",
        "access": "do_user_addr_fault",
        "faultUnderMmapLock": "do_user_addr_fault",
        "vmfAnonPrepareSlowPath": "vmf_anon_prepare",
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

    /// A rename: `name` (as 6.18 or the next rename spells it) first appears in release
    /// `since`; before, the code said `before`. With `in`, only on trace lines of those kernel
    /// functions (their 6.18 names): the folio conversion reached each path at its own
    /// release. Sources: KERNEL-NOTES.md, "Function names".
    struct Rename {
        var name: String
        var since: Int
        var before: String
        var context: [String] = []
        init(_ name: String, _ since: Int, _ before: String, in context: [String] = []) {
            self.name = name; self.since = since; self.before = before; self.context = context
        }
    }

    static let forkPaths = ["copy_present_ptes", "copy_present_pte", "copy_pte_range", "copy_page_range", "copy_huge_pmd", "dup_mmap"]
    static let reusePaths = ["do_wp_page", "wp_can_reuse_anon_folio", "wp_page_reuse"]

    /// Applied in this order, contextual ones first and each list newest first, so that a
    /// name renamed twice goes back through both.
    static let renames: [Rename] = [
        // Per path: the folio API reached it at these releases.
        Rename("folio_put", 603, "put_page", in: ["wp_page_copy"] + forkPaths),
        Rename("folio_get", 603, "get_page", in: forkPaths),
        Rename("folio_ref_add", 609, "get_page", in: forkPaths),
        Rename("folio_trylock", 601, "trylock_page", in: reusePaths),
        Rename("folio_unlock", 601, "unlock_page", in: reusePaths),
        Rename("folio_get", 601, "get_page", in: reusePaths),
        Rename("folio_put", 601, "put_page", in: reusePaths + ["do_swap_page", "swap_cache_get_folio", "__read_swap_cache_async"]),
        Rename("folio_lock", 601, "lock_page", in: ["do_swap_page"]),
        Rename("folio_unlock", 601, "unlock_page", in: ["do_swap_page"]),
        Rename("filemap_get_folio", 601, "find_get_page", in: ["swap_cache_get_folio", "do_swap_page"]),
        Rename("folio_trylock", 519, "trylock_page", in: ["shrink_folio_list", "reclaim_folio_list"]),
        Rename("folio_unlock", 519, "unlock_page", in: ["shrink_folio_list", "reclaim_folio_list"]),
        Rename("folio_maybe_dma_pinned", 519, "page_maybe_dma_pinned", in: ["shrink_folio_list", "reclaim_folio_list"]),
        // follow_page_pte's grab: try_grab_page until 6.10 made try_grab_folio the slow one.
        Rename("try_grab_folio", 610, "try_grab_page", in: ["follow_page_pte", "follow_page_mask", "follow_huge_pmd", "__get_user_pages"]),
        // Everywhere else.
        Rename("gup_fast_fallback", 610, "internal_get_user_pages_fast"),
        Rename("gup_fast_pte_range", 610, "gup_pte_range"),
        Rename("gup_fast_pmd_range", 610, "gup_pmd_range"),
        Rename("gup_fast_pmd_leaf", 610, "gup_huge_pmd"),
        Rename("gup_fast", 610, "lockless_pages_from_mm"),
        Rename("lockless_pages_from_mm", 511, "internal_get_user_pages_fast"),
        Rename("try_grab_folio_fast", 610, "try_grab_folio"),
        Rename("try_grab_folio", 518, "try_grab_compound_head"),
        Rename("follow_huge_pmd", 610, "follow_trans_huge_pmd"),
        Rename("folio_try_get", 610, "folio_try_get_rcu"),
        Rename("folio_try_get_rcu", 516, "page_cache_get_speculative"),
        Rename("copy_present_ptes", 609, "copy_present_pte"),
        Rename("folio_try_dup_anon_rmap_ptes", 609, "folio_try_dup_anon_rmap_pte"),
        Rename("folio_try_share_anon_rmap_pte", 608, "page_try_share_anon_rmap"),
        Rename("folio_try_dup_anon_rmap_pte", 608, "page_try_dup_anon_rmap"),
        Rename("folio_try_dup_anon_rmap_pmd", 608, "page_try_dup_anon_rmap"),
        Rename("folio_needs_cow_for_dma", 608, "page_needs_cow_for_dma"),
        Rename("folio_maybe_dma_pinned", 608, "page_maybe_dma_pinned"),
        Rename("wp_can_reuse_anon_folio", 607, "do_wp_page"),
        Rename("do_vmi_munmap", 603, "do_mas_munmap"),
        Rename("folio_add_new_anon_rmap", 603, "page_add_new_anon_rmap"),
        Rename("shrink_folio_list", 601, "shrink_page_list"),
        Rename("folio_free_swap", 601, "try_to_free_swap"),
        Rename("swap_cache_get_folio", 601, "lookup_swap_cache"),
        Rename("do_mas_munmap", 601, "__do_munmap"),
        Rename("split_folio", 601, "split_huge_page"),
        Rename("page_try_dup_anon_rmap", 519, "page_dup_rmap"),
        Rename("folio_trylock", 516, "trylock_page"),
        Rename("folio_lock", 516, "lock_page"),
        Rename("folio_unlock", 516, "unlock_page"),
        Rename("folio_put", 516, "put_page"),
        Rename("folio_get", 516, "get_page"),
        Rename("folio_ref_add", 516, "page_ref_add"),
        Rename("copy_present_pte", 509, "copy_one_pte"),
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
    package static func name(in text: String, release: Int) -> String {
        guard release < 618 else { return text }
        var out = text
        for r in renames where release < r.since && out.contains(r.name) {
            if !r.context.isEmpty && !r.context.contains(where: { text.contains($0 + ":") }) { continue }
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
    package func kernelName(_ fn: StaticString) -> String {
        KernelNames.name(in: KernelNames.kernelName(fn), release: semantics.release)
    }
}
