/// A last-level page-table entry, 64 bits as on x86 (KERNEL.md §1.3).
///
/// Present: bit 0 set; write/dirty/young/special/soft-dirty/uffd-wp bits; PFN from bit 12.
/// Not present and not none: a kind in bits 8…10 (swap, migration, marker) with the swap
/// entry or PFN from bit 12 and the swap "exclusive" bit 11.
package struct PTE: Hashable, Sendable, CustomStringConvertible {
    package var raw: UInt64
    @inline(__always) package init(raw: UInt64) { self.raw = raw }

    package static let none = PTE(raw: 0)

    static let present: UInt64 = 1 << 0
    static let write: UInt64 = 1 << 1
    static let dirty: UInt64 = 1 << 2
    static let young: UInt64 = 1 << 3
    static let special: UInt64 = 1 << 4
    static let softDirty: UInt64 = 1 << 5
    static let uffdWp: UInt64 = 1 << 6
    /// `_PAGE_PROTNONE`: present for the kernel, inaccessible to user space (PROT_NONE).
    static let protNone: UInt64 = 1 << 7
    static let kindShift: UInt64 = 8
    static let kindMask: UInt64 = 7 << 8
    static let swpExclusive: UInt64 = 1 << 11
    static let pfnShift: UInt64 = 12

    /// Kinds of non-present, non-none entries.
    package enum Kind: UInt64, Sendable {
        case swap = 1, migrationRead = 2, migrationReadExclusive = 3, migrationWrite = 4, marker = 5
    }

    /// A present PTE mapping `pfn`.
    @inline(__always)
    package static func page(_ pfn: PFN, write: Bool = false, dirty: Bool = false, young: Bool = true,
                            special: Bool = false) -> PTE {
        var r = present | (UInt64(pfn.raw) << pfnShift)
        if write { r |= Self.write }
        if dirty { r |= Self.dirty | Self.softDirty }
        if young { r |= Self.young }
        if special { r |= Self.special }
        return PTE(raw: r)
    }
    /// A swap PTE for swap slot `slot` (`swp_entry_to_pte`), with the exclusive bit.
    package static func swap(slot: Int, exclusive: Bool) -> PTE {
        PTE(raw: (Kind.swap.rawValue << kindShift) | (UInt64(slot) << pfnShift) | (exclusive ? swpExclusive : 0))
    }

    @inline(__always) package var isNone: Bool { raw == 0 }
    @inline(__always) package var isPresent: Bool { raw & Self.present != 0 }
    @inline(__always) package var isWritable: Bool { raw & Self.write != 0 }
    @inline(__always) package var isDirty: Bool { raw & Self.dirty != 0 }
    @inline(__always) package var isYoung: Bool { raw & Self.young != 0 }
    @inline(__always) package var isSpecial: Bool { raw & Self.special != 0 }
    @inline(__always) package var isSoftDirty: Bool { raw & Self.softDirty != 0 }
    @inline(__always) package var isUffdWp: Bool { raw & Self.uffdWp != 0 }
    /// `pte_protnone`.
    @inline(__always) package var isProtNone: Bool { raw & Self.protNone != 0 }
    /// Present and accessible to user space.
    @inline(__always) package var isUserAccessible: Bool { raw & (Self.present | Self.protNone) == Self.present }
    @inline(__always) package var pfn: PFN { PFN(UInt32(truncatingIfNeeded: raw >> Self.pfnShift)) }
    @inline(__always) package var kind: Kind? {
        guard !isPresent, !isNone else { return nil }
        return Kind(rawValue: (raw & Self.kindMask) >> Self.kindShift)
    }
    @inline(__always) package var isSwap: Bool { !isPresent && (raw & Self.kindMask) >> Self.kindShift == Kind.swap.rawValue }
    /// `pte_swp_exclusive`.
    @inline(__always) package var isSwapExclusive: Bool { raw & Self.swpExclusive != 0 }
    @inline(__always) package var swapSlot: Int { Int(raw >> Self.pfnShift) }

    @inline(__always) func with(_ bit: UInt64, _ on: Bool) -> PTE { PTE(raw: on ? raw | bit : raw & ~bit) }
    /// `pte_mkwrite` / `pte_wrprotect`.
    @inline(__always) package func withWrite(_ on: Bool) -> PTE { with(Self.write, on) }
    /// `pte_mkdirty` / `pte_mkclean`.
    /// `pte_mkdirty` (which on x86 also sets soft-dirty) / `pte_mkclean`.
    @inline(__always) package func withDirty(_ on: Bool) -> PTE { on ? PTE(raw: raw | Self.dirty | Self.softDirty) : with(Self.dirty, false) }
    /// `pte_mkyoung` / `pte_mkold`.
    @inline(__always) package func withYoung(_ on: Bool) -> PTE { with(Self.young, on) }
    @inline(__always) package func withSoftDirty(_ on: Bool) -> PTE { with(Self.softDirty, on) }
    @inline(__always) package func withUffdWp(_ on: Bool) -> PTE { with(Self.uffdWp, on) }
    @inline(__always) package func withProtNone(_ on: Bool) -> PTE { with(Self.protNone, on) }
    /// `pte_swp_clear_exclusive`.
    @inline(__always) package func withSwapExclusive(_ on: Bool) -> PTE { with(Self.swpExclusive, on) }
    /// The same bits pointing at `pfn` (used for batched `set_ptes`).
    @inline(__always) package func withPFN(_ pfn: PFN) -> PTE {
        PTE(raw: (raw & ((1 << Self.pfnShift) - 1)) | (UInt64(pfn.raw) << Self.pfnShift))
    }

    package var description: String {
        if isNone { return "none" }
        if isPresent {
            var s = "pte[\(pfn)"
            if isWritable { s += " W" } else { s += " RO" }
            if isDirty { s += " D" }
            if isYoung { s += " Y" }
            if isSpecial { s += " special" }
            if isSoftDirty { s += " sd" }
            if isUffdWp { s += " uffd-wp" }
            if isProtNone { s += " protnone" }
            return s + "]"
        }
        switch kind {
        case .swap: return "swp[slot \(swapSlot)\(isSwapExclusive ? " excl" : "")]"
        case .migrationRead: return "migration[r \(pfn)]"
        case .migrationReadExclusive: return "migration[r-excl \(pfn)]"
        case .migrationWrite: return "migration[w \(pfn)]"
        case .marker: return "marker"
        case nil: return "pte[\(String(raw, radix: 16))]"
        }
    }
}

/// A PMD entry: none, a pointer to a PTE table, or a huge (2 MiB) mapping.
package struct PMDEntry: Hashable, Sendable, CustomStringConvertible {
    package var raw: UInt64
    @inline(__always) package init(raw: UInt64) { self.raw = raw }
    package static let none = PMDEntry(raw: 0)

    static let present: UInt64 = 1 << 0
    static let write: UInt64 = 1 << 1
    static let dirty: UInt64 = 1 << 2
    static let young: UInt64 = 1 << 3
    static let huge: UInt64 = 1 << 7
    static let protNone: UInt64 = 1 << 8
    static let softDirty: UInt64 = 1 << 9
    static let shift: UInt64 = 12

    @inline(__always) package static func table(_ id: Int32) -> PMDEntry {
        PMDEntry(raw: present | (UInt64(UInt32(bitPattern: id)) << shift))
    }
    @inline(__always) package static func huge(_ pfn: PFN, write: Bool, dirty: Bool, young: Bool = true) -> PMDEntry {
        var r = present | huge | (UInt64(pfn.raw) << shift)
        if write { r |= Self.write }
        if dirty { r |= Self.dirty | Self.softDirty }
        if young { r |= Self.young }
        return PMDEntry(raw: r)
    }

    @inline(__always) package var isNone: Bool { raw == 0 }
    @inline(__always) package var isTable: Bool { raw & (Self.present | Self.huge) == Self.present }
    @inline(__always) package var isHuge: Bool { raw & Self.huge != 0 }
    @inline(__always) package var tableID: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: raw >> Self.shift)) }
    @inline(__always) package var pfn: PFN { PFN(UInt32(truncatingIfNeeded: raw >> Self.shift)) }
    @inline(__always) package var isWritable: Bool { raw & Self.write != 0 }
    @inline(__always) package var isDirty: Bool { raw & Self.dirty != 0 }
    @inline(__always) package var isYoung: Bool { raw & Self.young != 0 }
    @inline(__always) package var isProtNone: Bool { raw & Self.protNone != 0 }
    @inline(__always) package func withProtNone(_ on: Bool) -> PMDEntry { PMDEntry(raw: on ? raw | Self.protNone : raw & ~Self.protNone) }
    @inline(__always) package func withWrite(_ on: Bool) -> PMDEntry { PMDEntry(raw: on ? raw | Self.write : raw & ~Self.write) }
    /// `pmd_mkdirty` (which on x86 also sets soft-dirty) / `pmd_mkclean`.
    @inline(__always) package func withDirty(_ on: Bool) -> PMDEntry { PMDEntry(raw: on ? raw | Self.dirty | Self.softDirty : raw & ~Self.dirty) }
    @inline(__always) package var isSoftDirty: Bool { raw & Self.softDirty != 0 }
    @inline(__always) package func withSoftDirty(_ on: Bool) -> PMDEntry { PMDEntry(raw: on ? raw | Self.softDirty : raw & ~Self.softDirty) }
    @inline(__always) package func withYoung(_ on: Bool) -> PMDEntry { PMDEntry(raw: on ? raw | Self.young : raw & ~Self.young) }

    package var description: String {
        if isNone { return "none" }
        if isHuge { return "pmd[\(pfn)\(isWritable ? " W" : " RO")\(isDirty ? " D" : "")]" }
        return "pmd[table \(tableID)]"
    }
}
