/// The rule switches of KERNEL.md §8, plus proposals and injected bugs. A kernel version is a
/// preset of these values (data, not a fork of the code).
public struct Semantics: Hashable, Sendable {
    /// S1: anon reuse rule in `do_wp_page`.
    public enum AnonReuse: String, Hashable, Sendable, CaseIterable {
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
    public enum ROPinRule: String, Hashable, Sendable, CaseIterable {
        case none
        /// 5.8: FOLL_GET reads in COW mappings are treated as writes (break COW).
        case forceCOW = "force-cow"
        /// 5.19–6.1: FOLL_PIN without WRITE on a non-AE anon page → UNSHARE.
        case unshareAnon = "unshare-anon"
        /// 6.2+: also non-anon pages in COW mappings with FOLL_LONGTERM.
        case unshareCOWLongterm = "unshare-cow-longterm"
    }
    /// S3: fork and possibly pinned pages.
    public enum ForkPinned: String, Hashable, Sendable, CaseIterable {
        case share
        /// 5.9–5.18: copy for the child if the page may be pinned.
        case earlyCOW = "early-cow"
        /// 5.19+: copy only AE pages of maybe-pinned folios.
        case earlyCOWAE = "early-cow-ae"
    }
    /// S4: GUP-fast versus fork.
    public enum GUPFastFork: String, Hashable, Sendable, CaseIterable {
        case noSeq = "no-seq"
        case wpSeq = "wp-seq"
    }
    /// S5: exclusivity across swap, migration and KSM.
    public enum ExclusiveCarry: String, Hashable, Sendable, CaseIterable {
        case none
        case carry
    }
    /// S6: mprotect write upgrade of private anon PTEs.
    public enum MprotectUpgrade: String, Hashable, Sendable, CaseIterable {
        case never
        case dirtyAE = "dirty-ae"
        case ae
    }
    /// S7: FOLL_FORCE write into a read-only private VMA.
    public enum ForceWrite: String, Hashable, Sendable, CaseIterable {
        case follCOW = "foll-cow"
        case ae
    }
    /// S8: anonymous fault order.
    public enum FaultOrder: String, Hashable, Sendable, CaseIterable {
        /// ≤6.7: order 0 or a PMD THP.
        case order0PMD = "order0-pmd"
        /// 6.8+: multi-size THP (§2.1).
        case mthp
    }
    /// S9: how much of a large folio a COW fault copies.
    public enum COWCopy: String, Hashable, Sendable, CaseIterable {
        /// Mainline: the faulting page only.
        case onePage = "one-page"
        /// The whole source folio when it is mapped naturally aligned, else the faulting page.
        case wholeFolio = "whole-folio"
        /// RFC v2 (2023): the largest naturally aligned range of the source folio that contains
        /// the faulting address, lies in the VMA and one page table, and maps consecutive pages.
        case alignedRange = "aligned-range"
    }

    public var anonReuse: AnonReuse
    public var roPin: ROPinRule
    public var forkPinned: ForkPinned
    public var gupFastFork: GUPFastFork
    public var exclusiveCarry: ExclusiveCarry
    public var mprotectUpgrade: MprotectUpgrade
    public var forceWrite: ForceWrite
    public var faultOrder: FaultOrder
    public var cowCopy: COWCopy
    /// RFC v2: make every PTE of an exclusive large folio writable on reuse.
    public var rangeReuse: Bool
    /// ~6.13+: a write fault on a huge zero PMD allocates a PMD THP instead of splitting.
    public var hugeZeroWPAllocatesTHP: Bool

    /// Injected bug: `wp_page_copy` commits without the `pte_same` revalidation.
    public var skipPTESameAfterCopy: Bool = false
    /// Injected bug: GUP-fast ignores `write_protect_seq`.
    public var gupFastSkipsSeqCheck: Bool = false
    /// Injected bug: GUP-fast does not re-read the PTE after grabbing the folio.
    public var gupFastSkipsPTERecheck: Bool = false
    /// Injected bug: fork treats every page as unpinned.
    public var forkIgnoresPins: Bool = false
    /// Injected bug: a large anon fault installs its folio without rechecking under the PTL
    /// that the whole PTE range is still empty (`pte_range_none`).
    public var skipPTERangeNoneRecheck: Bool = false
    /// Injected bug: swap-out's try-share skips step A2 (`folio_maybe_dma_pinned`) and clears
    /// AE of a pinned page.
    public var tryShareIgnoresPins: Bool = false
    /// Injected bug: `do_wp_page` copies without the temporary folio reference, so another
    /// thread can free the source page during the unlocked copy.
    public var wpCopyWithoutFolioGet: Bool = false

    public init(anonReuse: AnonReuse, roPin: ROPinRule, forkPinned: ForkPinned, gupFastFork: GUPFastFork,
                exclusiveCarry: ExclusiveCarry, mprotectUpgrade: MprotectUpgrade, forceWrite: ForceWrite,
                faultOrder: FaultOrder, cowCopy: COWCopy, rangeReuse: Bool = false,
                hugeZeroWPAllocatesTHP: Bool) {
        self.anonReuse = anonReuse; self.roPin = roPin; self.forkPinned = forkPinned
        self.gupFastFork = gupFastFork; self.exclusiveCarry = exclusiveCarry
        self.mprotectUpgrade = mprotectUpgrade; self.forceWrite = forceWrite
        self.faultOrder = faultOrder; self.cowCopy = cowCopy; self.rangeReuse = rangeReuse
        self.hugeZeroWPAllocatesTHP = hugeZeroWPAllocatesTHP
    }

    /// What runs on our machines: Linux 6.18 (6.15 large-folio reuse, 6.13 huge-zero THP
    /// allocation on write).
    public static let v6_18 = Semantics(
        anonReuse: .aeMMID, roPin: .unshareCOWLongterm, forkPinned: .earlyCOWAE, gupFastFork: .wpSeq,
        exclusiveCarry: .carry, mprotectUpgrade: .ae, forceWrite: .ae, faultOrder: .mthp,
        cowCopy: .onePage, hugeZeroWPAllocatesTHP: true)

    /// Named presets accepted by configs. Only v6.18 exists so far; older kernels follow.
    public static let presets: [(name: String, semantics: Semantics)] = [("v6.18", .v6_18)]

    public static func preset(named name: String) -> Semantics? {
        presets.first { $0.name == name }?.semantics
    }
}
