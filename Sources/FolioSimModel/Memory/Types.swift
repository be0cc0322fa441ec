/// Page size and page-table geometry of x86-64 with 4 KiB pages.
package enum Geometry {
    package static let pageShift: UInt64 = 12
    package static let pageSize: UInt64 = 1 << pageShift
    package static let ptrsPerTable = 512
    /// `HPAGE_PMD_ORDER`: a PMD maps 2 MiB.
    package static let pmdOrder = 9
    package static let pmdSize: UInt64 = pageSize << UInt64(pmdOrder)
    package static let pmdShift: UInt64 = 21
    package static let pudShift: UInt64 = 30
    package static let pgdShift: UInt64 = 39
    /// The address range one PUD entry (a PMD table) and one PGD entry (a PUD table) cover.
    package static let pudSpan: UInt64 = 1 << pudShift
    package static let pgdSpan: UInt64 = 1 << pgdShift
    /// Highest order the buddy allocator hands out (the issue fixes orders 0…9).
    package static let maxOrder = 9
    /// `TASK_SIZE` of a 4-level x86-64 user address space.
    package static let taskSize: UInt64 = 1 << 47
}

/// A page frame number: index into the simulated memmap.
package struct PFN: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var raw: UInt32
    @inline(__always) package init(_ raw: UInt32) { self.raw = raw }
    @inline(__always) package init(_ raw: Int) { self.raw = UInt32(truncatingIfNeeded: raw) }
    @inline(__always) package var index: Int { Int(raw) }
    @inline(__always) package static func < (a: PFN, b: PFN) -> Bool { a.raw < b.raw }
    @inline(__always) package static func + (a: PFN, b: Int) -> PFN { PFN(Int(a.raw) + b) }
    @inline(__always) package static func - (a: PFN, b: PFN) -> Int { Int(a.raw) - Int(b.raw) }
    package var description: String { "pfn " + String(raw, radix: 16) }
}

/// A user virtual address.
package struct VirtualAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var raw: UInt64
    @inline(__always) package init(_ raw: UInt64) { self.raw = raw }
    @inline(__always) package static func < (a: VirtualAddress, b: VirtualAddress) -> Bool { a.raw < b.raw }
    @inline(__always) package static func + (a: VirtualAddress, b: UInt64) -> VirtualAddress { VirtualAddress(a.raw &+ b) }
    @inline(__always) package static func - (a: VirtualAddress, b: VirtualAddress) -> UInt64 { a.raw &- b.raw }
    /// Index of the PTE inside its 512-entry table.
    @inline(__always) package var pteIndex: Int { Int((raw >> Geometry.pageShift) & 511) }
    @inline(__always) package var pmdIndex: Int { Int((raw >> Geometry.pmdShift) & 511) }
    @inline(__always) package var pudIndex: Int { Int((raw >> Geometry.pudShift) & 511) }
    @inline(__always) package var pgdIndex: Int { Int((raw >> Geometry.pgdShift) & 511) }
    /// `ALIGN_DOWN(addr, PAGE_SIZE << order)`.
    @inline(__always) package func alignedDown(order: Int) -> VirtualAddress {
        VirtualAddress(raw & ~((Geometry.pageSize << UInt64(order)) - 1))
    }
    package var description: String { "0x" + String(raw, radix: 16) }
}

/// A folio order: 0 for a small folio, 2…9 for anonymous large folios.
package struct FolioOrder: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var raw: Int
    @inline(__always) package init(_ raw: Int) { self.raw = raw }
    @inline(__always) package var pages: Int { 1 << raw }
    @inline(__always) package var bytes: UInt64 { Geometry.pageSize << UInt64(raw) }
    package static func < (a: FolioOrder, b: FolioOrder) -> Bool { a.raw < b.raw }
    /// The kernel's name for the size: "64kB" as in `hugepages-64kB`.
    package var sizeName: String { "\(4 << raw)kB" }
    package var description: String { sizeName }
}

/// `GUP_PIN_COUNTING_BIAS`.
package let gupPinCountingBias: Int32 = 1024

/// Formats a byte count the way configs write it: "64K", "2M", "1G".
public func formatSize(_ bytes: UInt64) -> String {
    let units: [(UInt64, String)] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")]
    for (unit, suffix) in units where bytes >= unit && bytes % unit == 0 {
        return "\(bytes / unit)\(suffix)"
    }
    return "\(bytes)"
}
