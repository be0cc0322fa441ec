/// `/sys/kernel/mm/transparent_hugepage/enabled`.
package enum THPEnabled: String, Hashable, Sendable, CaseIterable {
    case always, madvise, never
}

/// `/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled`.
package enum THPSizeSetting: String, Hashable, Sendable, CaseIterable {
    case always, inherit, madvise, never
}

/// The mTHP sysfs model (KERNEL.md §2.1): the top-level setting, one setting per anon order
/// (2…9), and `use_zero_page`. Defaults are the kernel's: PMD order `inherit`, the rest `never`.
public struct THPSettings: Hashable, Sendable {
    package var enabled: THPEnabled
    /// Indexed by order; orders 0 and 1 are never used for anonymous THP.
    package var perOrder: [THPSizeSetting]
    package var useZeroPage: Bool

    package init(enabled: THPEnabled = .madvise, useZeroPage: Bool = true) {
        self.enabled = enabled
        self.useZeroPage = useZeroPage
        perOrder = Array(repeating: .never, count: Geometry.pmdOrder + 1)
        perOrder[Geometry.pmdOrder] = .inherit
    }

    /// Orders that anonymous THP may use (`THP_ORDERS_ALL_ANON`).
    package static let anonOrders = 2...Geometry.pmdOrder

    /// The sysfs size names that exist for anon orders, "16K" … "2M", as configs write them.
    public static func order(forSize bytes: UInt64) -> Int? {
        for o in anonOrders where Geometry.pageSize << UInt64(o) == bytes { return o }
        return nil
    }

    /// The order mask `thp_vma_allowable_orders` derives from sysfs for an anonymous VMA
    /// (TVA_ENFORCE_SYSFS): always, plus madvise with VM_HUGEPAGE, plus inherit when the top
    /// level is always (or madvise with VM_HUGEPAGE).
    package func sysfsMask(vmaHugepage: Bool) -> UInt32 {
        var mask: UInt32 = 0
        let inheritOn = enabled == .always || (enabled == .madvise && vmaHugepage)
        for o in Self.anonOrders {
            switch perOrder[o] {
            case .always: mask |= 1 << o
            case .madvise: if vmaHugepage { mask |= 1 << o }
            case .inherit: if inheritOn { mask |= 1 << o }
            case .never: break
            }
        }
        return mask
    }
}
