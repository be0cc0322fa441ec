/// The checker's shadow of what user space last wrote through each address, by PTE table
/// and index: a bitmap of the entries written, and the data word. It lets the checker prove
/// that no completed write was lost. A table written with one value throughout (what a
/// `write` step over a range does) keeps that value once; the 2 KiB array of per-address
/// values is allocated only when a second value is written.
///
/// Each change marks the table as changed for the incremental checker
/// (`PageTableStore.shadowChanged`), so the entry is checked again.
final class WrittenShadow: UserDataEvents {
    /// The world's store, which outlives the shadow. Unmanaged and used through
    /// `_withUnsafeGuaranteedRef`: an `unowned` reference (checked or not) cost a retain and a
    /// release at every user store (perf: 5–7 % of a fault).
    private let tables: Unmanaged<PageTableStore>
    /// Per table, by id: 8 words of written bits, the common value, whether it is set, and
    /// the per-address values once there are two. `RawArray`s: as Swift arrays held by this
    /// class every store paid a uniqueness check per array it touched.
    private var bits: RawArray<UInt64>
    private var common: RawArray<UInt32>
    private var hasCommon: RawArray<Bool>
    private var values: RawArray<UnsafeMutablePointer<UInt32>?>

    init(tables: PageTableStore) {
        self.tables = Unmanaged.passUnretained(tables)
        bits = RawArray()
        common = RawArray()
        hasCommon = RawArray()
        values = RawArray()
    }

    init(copying o: WrittenShadow, tables: PageTableStore) {
        self.tables = Unmanaged.passUnretained(tables)
        bits = RawArray(copying: o.bits)
        common = RawArray(copying: o.common)
        hasCommon = RawArray(copying: o.hasCommon)
        values = RawArray(o.values.map { v in
            v.map { src in
                let copy = UnsafeMutablePointer<UInt32>.allocate(capacity: 512)
                copy.initialize(from: src, count: 512)
                return copy
            }
        })
    }

    deinit {
        for v in values { v?.deallocate() }
        bits.release()
        common.release()
        hasCommon.release()
        values.release()
    }

    @inline(__always) private func ensure(_ id: Int) {
        guard id >= common.count else { return }
        bits.grow(to: (id + 1) * 8, with: 0)
        common.grow(to: id + 1, with: 0)
        hasCommon.grow(to: id + 1, with: false)
        values.grow(to: id + 1, with: nil)
    }

    /// Whether user space wrote through entry `i` of table `id` since it was last cleared.
    @inline(__always) func isWritten(_ id: Int32, _ i: Int) -> Bool {
        let t = Int(id)
        return t < common.count && bits[t * 8 + i >> 6] & (1 << UInt64(i & 63)) != 0
    }
    /// The data word last written through entry `i` (meaningful when `isWritten`).
    @inline(__always) func expected(_ id: Int32, _ i: Int) -> UInt32 {
        let t = Int(id)
        guard t < common.count else { return 0 }
        return values[t]?[i] ?? common[t]
    }
    /// Whether table `id` keeps one value per address.
    func hasValueArray(_ id: Int32) -> Bool { Int(id) < common.count && values[Int(id)] != nil }

    @inline(__always) private func set(_ id: Int32, _ i: Int, _ value: UInt32) {
        let t = Int(id)
        ensure(t)
        tables._withUnsafeGuaranteedRef { $0.shadowChanged(id) }
        if let v = values[t] {
            v[i] = value
        } else if !hasCommon[t] {
            common[t] = value
            hasCommon[t] = true
        } else if common[t] != value {
            let v = UnsafeMutablePointer<UInt32>.allocate(capacity: 512)
            v.initialize(repeating: common[t], count: 512)
            v[i] = value
            values[t] = v
        }
        bits[t * 8 + i >> 6] |= 1 << UInt64(i & 63)
    }

    @inline(__always) private func clear(_ id: Int32, _ i: Int) {
        let t = Int(id)
        guard t < common.count else { return }
        tables._withUnsafeGuaranteedRef { $0.shadowChanged(id) }
        bits[t * 8 + i >> 6] &= ~(1 << UInt64(i & 63))
    }

    /// Inlined into the MMU's store (the protocol call is devirtualized there): a call per
    /// user store was 23 instructions of a write fault (callgrind).
    @inline(__always) func userStored(_ slot: PTESlot, _ value: UInt32) { set(slot.table, slot.index, value) }
    func pteCleared(_ slot: PTESlot) { clear(slot.table, slot.index) }

    func ptesCopied(from s: Int32, _ si: Int, to d: Int32, _ di: Int, count: Int) {
        guard s != 0, d != 0 else { return }
        for k in 0..<count {
            if isWritten(s, si + k) { set(d, di + k, expected(s, si + k)) } else { clear(d, di + k) }
        }
    }

    func ptesMoved(from s: Int32, _ si: Int, to d: Int32, _ di: Int, count: Int) {
        ptesCopied(from: s, si, to: d, di, count: count)
        for k in 0..<count { clear(s, si + k) }
    }

    func tableCreated(_ id: Int32) {
        let t = Int(id)
        guard t < common.count else { return }
        for w in 0..<8 { bits[t * 8 + w] = 0 }
        hasCommon[t] = false
        values[t]?.deallocate()
        values[t] = nil
    }

    /// Bytes the shadow holds.
    var footprintBytes: Int {
        common.capacity * (8 * 8 + 4 + 1 + 8) + values.reduce(0) { $0 + ($1 == nil ? 0 : 512 * 4) }
    }
}
