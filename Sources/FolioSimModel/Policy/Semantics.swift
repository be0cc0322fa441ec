/// The rule switches of KERNEL.md §8, plus proposals and injected bugs. A kernel version is a
/// preset of these values (data, not a fork of the code).
public struct Semantics: Hashable, Sendable {
    /// S1: anon reuse rule in `do_wp_page`.
    package enum AnonReuse: String, Hashable, Sendable, CaseIterable {
        /// ≤5.8: reuse iff mapcount + swapcount ≤ 1, references ignored.
        case mapcount
        /// 5.9–5.18: reuse iff not KSM and `ref == 1` (after freeing the swapcache).
        case refcount
        /// 5.19+: AE → reuse; else the refcount rule, then set AE. Large folios never reused.
        case ae
        /// 6.15+: as `ae`, plus large-folio reuse from MM-ID ownership (§2.4).
        case aeMMID = "ae+mmid"
    }
    /// S2: read-only GUP on a read-only PTE.
    package enum ROPinRule: String, Hashable, Sendable, CaseIterable {
        case none
        /// 5.8: FOLL_GET reads in COW mappings are treated as writes (break COW).
        case forceCOW = "force-cow"
        /// 5.19–6.1: FOLL_PIN without WRITE on a non-AE anon page → UNSHARE.
        case unshareAnon = "unshare-anon"
        /// 6.2+: also non-anon pages in COW mappings with FOLL_LONGTERM.
        case unshareCOWLongterm = "unshare-cow-longterm"
    }
    /// S3: fork and possibly pinned pages.
    package enum ForkPinned: String, Hashable, Sendable, CaseIterable {
        case share
        /// 5.9–5.18: copy for the child if the page may be pinned.
        case earlyCOW = "early-cow"
        /// 5.19+: copy only AE pages of maybe-pinned folios.
        case earlyCOWAE = "early-cow-ae"
    }
    /// S4: GUP-fast versus fork.
    package enum GUPFastFork: String, Hashable, Sendable, CaseIterable {
        case noSeq = "no-seq"
        case wpSeq = "wp-seq"
    }
    /// S5: exclusivity across swap, migration and KSM.
    package enum ExclusiveCarry: String, Hashable, Sendable, CaseIterable {
        case none
        case carry
    }
    /// S6: mprotect write upgrade of private anon PTEs.
    package enum MprotectUpgrade: String, Hashable, Sendable, CaseIterable {
        case never
        case dirtyAE = "dirty-ae"
        case ae
    }
    /// S7: FOLL_FORCE write into a read-only private VMA.
    package enum ForceWrite: String, Hashable, Sendable, CaseIterable {
        case follCOW = "foll-cow"
        case ae
    }
    /// S8: anonymous fault order.
    package enum FaultOrder: String, Hashable, Sendable, CaseIterable {
        /// ≤6.7: order 0 or a PMD THP.
        case order0PMD = "order0-pmd"
        /// 6.8+: multi-size THP (§2.1).
        case mthp
    }
    /// S9: how much of a large folio a COW fault copies.
    package enum COWCopy: String, Hashable, Sendable, CaseIterable {
        /// Mainline: the faulting page only.
        case onePage = "one-page"
        /// The whole source folio when it is mapped naturally aligned, else the faulting page.
        case wholeFolio = "whole-folio"
        /// RFC v2 (2023): the largest naturally aligned range of the source folio that contains
        /// the faulting address, lies in the VMA and one page table, and maps consecutive pages.
        case alignedRange = "aligned-range"
    }

    /// Reclaim and pinned anon pages.
    package enum PinnedSwapout: String, Hashable, Sendable, CaseIterable {
        /// ≤5.10: reclaim adds a pinned page to the swap cache and unmaps it.
        case swap
        /// 5.11+ (feb889fb40fa, "mm: don't put pinned pages into the swap cache"): a maybe-pinned
        /// anon folio is kept.
        case keep
    }

    package var anonReuse: AnonReuse
    package var roPin: ROPinRule
    package var forkPinned: ForkPinned
    package var gupFastFork: GUPFastFork
    package var exclusiveCarry: ExclusiveCarry
    package var mprotectUpgrade: MprotectUpgrade
    package var forceWrite: ForceWrite
    package var faultOrder: FaultOrder
    package var cowCopy: COWCopy
    /// RFC v2: make every PTE of an exclusive large folio writable on reuse.
    package var rangeReuse: Bool
    /// ~6.13+: a write fault on a huge zero PMD allocates a PMD THP instead of splitting.
    package var hugeZeroWPAllocatesTHP: Bool
    /// Whether reclaim swaps out pinned anon pages.
    package var pinnedSwapout: PinnedSwapout = .keep
    /// 6.4+ (per-VMA locks, 50ee32537206 "mm: introduce lock_vma_under_rcu"): a fault on a
    /// VMA that `vmaLockFaults` admits takes only that VMA's read lock, not mmap_lock.
    package var vmaLocks: Bool = false
    /// Which VMAs `lock_vma_under_rcu` admits, with `vmaLocks`.
    package enum VMALockFaults: String, Hashable, Sendable, CaseIterable {
        /// 6.4–6.6: anonymous VMAs that already have an anon_vma.
        case anon
        /// 6.7–6.9 ("mm: Allow per-VMA locks on file-backed VMAs"): file-backed VMAs too, but
        /// not an anonymous VMA without an anon_vma; `vmf_anon_prepare` (a private file VMA's
        /// first COW) drops the VMA lock and returns VM_FAULT_RETRY.
        case fileAndAnon = "file-and-anon"
        /// 6.10+ ("mm: Delay the check for a NULL anon_vma" and the `mmap_read_trylock` in
        /// `vmf_anon_prepare`, both April 2024): every VMA; the anon_vma is prepared under
        /// `mmap_read_trylock`, and the fault returns VM_FAULT_RETRY only when that fails.
        case all
    }
    package var vmaLockFaults: VMALockFaults = .anon
    /// The release whose function names traces use (major × 100 + minor), e.g. 518 for 5.18.
    /// Not a rule: a preset's metadata.
    package var release: Int = 618

    /// Injected bug: `wp_page_copy` commits without the `pte_same` revalidation.
    package var skipPTESameAfterCopy: Bool = false
    /// Injected bug: GUP-fast ignores `write_protect_seq`.
    package var gupFastSkipsSeqCheck: Bool = false
    /// Injected bug: GUP-fast does not re-read the PTE after grabbing the folio.
    package var gupFastSkipsPTERecheck: Bool = false
    /// Injected bug: fork treats every page as unpinned.
    package var forkIgnoresPins: Bool = false
    /// Injected bug: a large anon fault installs its folio without rechecking under the PTL
    /// that the whole PTE range is still empty (`pte_range_none`).
    package var skipPTERangeNoneRecheck: Bool = false
    /// Injected bug: swap-out's try-share skips step A2 (`folio_maybe_dma_pinned`) and clears
    /// AE of a pinned page.
    package var tryShareIgnoresPins: Bool = false
    /// Injected bug: `do_wp_page` copies without the temporary folio reference, so another
    /// thread can free the source page during the unlocked copy.
    package var wpCopyWithoutFolioGet: Bool = false

    package init(anonReuse: AnonReuse, roPin: ROPinRule, forkPinned: ForkPinned, gupFastFork: GUPFastFork,
                exclusiveCarry: ExclusiveCarry, mprotectUpgrade: MprotectUpgrade, forceWrite: ForceWrite,
                faultOrder: FaultOrder, cowCopy: COWCopy, rangeReuse: Bool = false,
                hugeZeroWPAllocatesTHP: Bool) {
        self.anonReuse = anonReuse; self.roPin = roPin; self.forkPinned = forkPinned
        self.gupFastFork = gupFastFork; self.exclusiveCarry = exclusiveCarry
        self.mprotectUpgrade = mprotectUpgrade; self.forceWrite = forceWrite
        self.faultOrder = faultOrder; self.cowCopy = cowCopy; self.rangeReuse = rangeReuse
        self.hugeZeroWPAllocatesTHP = hugeZeroWPAllocatesTHP
    }

    /// Linux 5.7 and earlier: mapcount-based reuse (`reuse_swap_page`), read-only GUP
    /// references whatever is mapped, fork shares pinned pages, no exclusivity marker.
    package static let v5_7: Semantics = {
        var s = Semantics(
            anonReuse: .mapcount, roPin: .none, forkPinned: .share, gupFastFork: .noSeq,
            exclusiveCarry: .none, mprotectUpgrade: .never, forceWrite: .follCOW, faultOrder: .order0PMD,
            cowCopy: .onePage, hugeZeroWPAllocatesTHP: false)
        s.pinnedSwapout = .swap
        s.release = 507
        return s
    }()

    /// 5.8 (and 5.7.3 stable): CVE-2020-29374's first fix, 17839856fd58: a FOLL_GET read in
    /// a COW mapping breaks COW like a write.
    package static let v5_8: Semantics = { var s = v5_7; s.roPin = .forceCOW; s.release = 508; return s }()

    /// 5.9: refcount-based reuse (09854ba94c6a), the forced COW removed again (a308c71bf1e6),
    /// early COW of maybe-pinned pages at fork (70e806e4e645).
    package static let v5_9: Semantics = {
        var s = Semantics(
            anonReuse: .refcount, roPin: .none, forkPinned: .earlyCOW, gupFastFork: .noSeq,
            exclusiveCarry: .none, mprotectUpgrade: .never, forceWrite: .follCOW, faultOrder: .order0PMD,
            cowCopy: .onePage, hugeZeroWPAllocatesTHP: false)
        s.pinnedSwapout = .swap
        s.release = 509
        return s
    }()

    /// 5.11: GUP-fast checks `write_protect_seq` against fork (57efa1fe5957); reclaim keeps
    /// maybe-pinned anon pages out of the swap cache (feb889fb40fa).
    package static let v5_11: Semantics = { var s = v5_9; s.gupFastFork = .wpSeq; s.pinnedSwapout = .keep; s.release = 511; return s }()

    /// 5.19: PageAnonExclusive and FAULT_FLAG_UNSHARE ("COW fixes part 2"), exclusivity carried
    /// across swap. mprotect() does not upgrade private anon PTEs yet (that came in 6.0,
    /// KERNEL-NOTES.md).
    package static let v5_19: Semantics = {
        var s = Semantics(
            anonReuse: .ae, roPin: .unshareAnon, forkPinned: .earlyCOWAE, gupFastFork: .wpSeq,
            exclusiveCarry: .carry, mprotectUpgrade: .never, forceWrite: .follCOW, faultOrder: .order0PMD,
            cowCopy: .onePage, hugeZeroWPAllocatesTHP: false)
        s.release = 519
        return s
    }()

    /// 6.0/6.1: FOLL_FORCE writes need an exclusive anon page; FOLL_COW is gone (5535be309971,
    /// CVE-2022-2590); mprotect() upgrades dirty exclusive anon PTEs (64fe24a3e05e).
    package static let v6_1: Semantics = { var s = v5_19; s.forceWrite = .ae; s.mprotectUpgrade = .dirtyAE; s.release = 601; return s }()

    /// 6.2: reliable R/O long-term pins in any COW mapping (84209e87c696, 8d6a0ac09a16); clean
    /// exclusive anon PTEs are upgraded by mprotect too (d84887739d5c).
    package static let v6_2: Semantics = { var s = v6_1; s.roPin = .unshareCOWLongterm; s.mprotectUpgrade = .ae; s.release = 602; return s }()

    /// 6.8: multi-size THP for anonymous faults; a COW fault copies one page. Faults take the
    /// per-VMA lock (6.4+) on file-backed VMAs and on anonymous VMAs with an anon_vma (6.7–6.9).
    package static let v6_8: Semantics = {
        var s = v6_2
        s.faultOrder = .mthp
        s.cowCopy = .onePage
        s.vmaLocks = true
        s.vmaLockFaults = .fileAndAnon
        s.release = 608
        return s
    }()

    /// 6.15: large-folio reuse from MM-ID ownership (1da190f4d0a6), the 6.13 huge zero page
    /// write fault that allocates a PMD THP, and (6.10+) faults under the per-VMA lock on every
    /// VMA, an anon_vma prepared under `mmap_read_trylock`.
    package static let v6_15: Semantics = {
        var s = v6_8
        s.anonReuse = .aeMMID
        s.hugeZeroWPAllocatesTHP = true
        s.vmaLockFaults = .all
        s.release = 615
        return s
    }()

    /// What runs on our machines: Linux 6.18 (6.15 large-folio reuse, 6.13 huge-zero THP
    /// allocation on write).
    package static let v6_18: Semantics = {
        var s = Semantics(
            anonReuse: .aeMMID, roPin: .unshareCOWLongterm, forkPinned: .earlyCOWAE, gupFastFork: .wpSeq,
            exclusiveCarry: .carry, mprotectUpgrade: .ae, forceWrite: .ae, faultOrder: .mthp,
            cowCopy: .onePage, hugeZeroWPAllocatesTHP: true)
        s.vmaLocks = true
        s.vmaLockFaults = .all
        s.release = 618
        return s
    }()

    /// Ryan Roberts' 2023 RFC v2 of large anonymous folios on top of 6.2: mTHP faults, a COW
    /// fault copies the naturally aligned range around the address, and a large folio that
    /// only this mm maps, with no other references, is reused, every PTE made writable. The
    /// RFC's own exclusivity test is not in the thread; FolioSim uses the 6.15 whole-folio
    /// ownership test for it (KERNEL.md §2.7, KERNEL-NOTES.md).
    package static let rfc2023: Semantics = {
        var s = v6_2
        s.faultOrder = .mthp
        s.cowCopy = .alignedRange
        s.rangeReuse = true
        s.anonReuse = .aeMMID
        s.release = 603
        return s
    }()

    /// Named presets accepted by configs and `--semantics`, oldest first.
    public static let presets: [(name: String, semantics: Semantics)] = [
        ("v5.7", .v5_7), ("v5.8", .v5_8), ("v5.9", .v5_9), ("v5.11", .v5_11), ("v5.19", .v5_19),
        ("v6.1", .v6_1), ("v6.2", .v6_2), ("v6.8", .v6_8), ("v6.15", .v6_15), ("v6.18", .v6_18),
        ("rfc2023", .rfc2023),
    ]

    /// The preset called `name` (`"v6.18"`, `"v5.9"`, `"rfc2023"`, …), nil for an unknown name.
    public static func preset(named name: String) -> Semantics? {
        presets.first { $0.name == name }?.semantics
    }

    /// Whether the rules know PageAnonExclusive (5.19+): only then do the invariants that
    /// are stated in terms of it apply.
    package var hasAnonExclusive: Bool { anonReuse == .ae || anonReuse == .aeMMID }
}
