/// One PTE table: 512 PTEs and the split PTL.
///
/// Every write goes through `set` or `mutablePTEs`, which note that the table changed since
/// the last invariant check; while the checker tracks changes, the first write also keeps a
/// copy of the entries as they were at that check (`entriesAtLastCheck`). The checker's
/// record of what user space wrote through each entry lives apart (`WrittenShadow`).
package struct PTETable {
    @inline(__always) package var ptes: UnsafePointer<PTE> { UnsafePointer(entries) }
    private let entries: UnsafeMutablePointer<PTE>
    /// [0] the PTL owner, [4] the change state (`Change`), [5] 1 while the checker tracks
    /// changes, [6…7] the address of the entries at the last check; [1…3] unused.
    private let header: UnsafeMutablePointer<UInt32>
    /// The simulated page backing this table (page tables come from the buddy allocator).
    package var backing: PFN
    /// Thread holding the PTL, 0 if free. In the header, not a stored property: a lock or
    /// unlock at every fault then writes through the pointer instead of mutating an element
    /// of the store's table array (a uniqueness check and a copy-on-write test each time).
    package var ptlOwner: Int32 {
        get { Int32(bitPattern: header[0]) }
        nonmutating set { header[0] = UInt32(bitPattern: newValue) }
    }
    /// False once the table is freed (its slot waits for reuse).
    package var inUse: Bool

    static let bytes = 512 * 8 + 32

    /// What happened to a table since the last invariant check.
    enum Change: UInt32 {
        /// Not written.
        case none = 0
        /// Written; `entriesAtLastCheck` holds the entries as they were.
        case written = 1
        /// Written; it held no entry at the last check (a new table, or changes untracked).
        case wasEmpty = 2
    }

    private static func layout(_ raw: UnsafeMutableRawPointer) -> (UnsafeMutablePointer<PTE>, UnsafeMutablePointer<UInt32>) {
        (raw.bindMemory(to: PTE.self, capacity: 512), (raw + 512 * 8).bindMemory(to: UInt32.self, capacity: 8))
    }

    init(backing: PFN, tracked: Bool) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Self.bytes, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: Self.bytes)
        (entries, header) = Self.layout(raw)
        self.backing = backing
        inUse = true
        header[4] = Change.wasEmpty.rawValue
        header[5] = tracked ? 1 : 0
    }

    /// A copy with its own entries and shadow; the copy's changes are not tracked.
    init(copying o: PTETable) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Self.bytes, alignment: 16)
        raw.copyMemory(from: UnsafeRawPointer(o.ptes), byteCount: Self.bytes)
        (entries, header) = Self.layout(raw)
        backing = o.backing
        inUse = o.inUse
        header[4] = Change.wasEmpty.rawValue
        header[5] = 0
        oldEntries_ = nil
    }

    private func pointer<T>(at i: Int) -> UnsafeMutablePointer<T>? {
        UnsafeMutableRawPointer(header + i).load(as: UnsafeMutablePointer<T>?.self)
    }
    private func setPointer<T>(at i: Int, _ p: UnsafeMutablePointer<T>?) {
        UnsafeMutableRawPointer(header + i).storeBytes(of: p, as: UnsafeMutablePointer<T>?.self)
    }
    private var oldEntries_: UnsafeMutablePointer<PTE>? {
        get { pointer(at: 6) }
        nonmutating set { setPointer(at: 6, newValue) }
    }

    // MARK: change tracking for the incremental checker

    var change: Change { Change(rawValue: header[4]) ?? .wasEmpty }

    /// The entries as they were at the last invariant check: nil when the table held none
    /// then; the current entries when it was not written since.
    var entriesAtLastCheck: UnsafePointer<PTE>? {
        switch change {
        case .none: ptes
        case .written: oldEntries_.map { UnsafePointer($0) }
        case .wasEmpty: nil
        }
    }

    /// Notes a write before it happens.
    @inline(__always) func willWrite() {
        if _slowPath(header[4] == Change.none.rawValue) { firstWriteSinceCheck() }
    }
    @inline(never) private func firstWriteSinceCheck() {
        guard header[5] != 0 else {
            header[4] = Change.wasEmpty.rawValue
            return
        }
        let copy = UnsafeMutablePointer<PTE>.allocate(capacity: 512)
        copy.initialize(from: ptes, count: 512)
        oldEntries_ = copy
        header[4] = Change.written.rawValue
    }
    /// After a check: the table counts as unchanged from now on, and is tracked or not.
    func checked(tracking: Bool) {
        oldEntries_?.deallocate()
        oldEntries_ = nil
        header[4] = Change.none.rawValue
        header[5] = tracking ? 1 : 0
    }

    @inline(__always) func set(_ i: Int, _ v: PTE) {
        willWrite()
        entries[i] = v
    }
    /// The entries for a run of writes (the table is noted as written).
    @inline(__always) func mutablePTEs() -> UnsafeMutablePointer<PTE> {
        willWrite()
        return entries
    }

    /// Empties a table for reuse; the entries it held stay known to the checker.
    func reset() {
        willWrite()
        UnsafeMutableRawPointer(entries).initializeMemory(as: UInt8.self, repeating: 0, count: 512 * 8)
    }
    func release() {
        oldEntries_?.deallocate()
        UnsafeMutableRawPointer(entries).deallocate()
    }

}

/// A PMD table: 512 PMD entries and the PMD lock (`pmd_lock`, one per PMD page).
package struct PMDTable {
    package let entries: UnsafeMutablePointer<PMDEntry>
    /// PTE table deposited with each huge PMD (`pgtable_trans_huge_deposit`), 0 if none.
    package let deposited: UnsafeMutablePointer<Int32>
    package var backing: PFN
    package var lockOwner: Int32 = 0
    package var inUse: Bool
    init(backing: PFN) {
        entries = .allocate(capacity: 512)
        entries.initialize(repeating: .none, count: 512)
        deposited = .allocate(capacity: 512)
        deposited.initialize(repeating: 0, count: 512)
        self.backing = backing
        inUse = true
    }
    /// A copy with its own entries.
    init(copying o: PMDTable) {
        entries = .allocate(capacity: 512)
        entries.initialize(from: o.entries, count: 512)
        deposited = .allocate(capacity: 512)
        deposited.initialize(from: o.deposited, count: 512)
        backing = o.backing
        lockOwner = o.lockOwner
        inUse = o.inUse
    }
}

/// Upper levels (PGD and PUD): 512 table IDs each (0 = none). They only locate PMD tables;
/// huge PUD mappings are not modelled.
package struct UpperTable {
    package let entries: UnsafeMutablePointer<Int32>
    package var backing: PFN
    package var inUse: Bool
    init(backing: PFN) {
        entries = .allocate(capacity: 512)
        entries.initialize(repeating: 0, count: 512)
        self.backing = backing
        inUse = true
    }
    /// A copy with its own entries.
    init(copying o: UpperTable) {
        entries = .allocate(capacity: 512)
        entries.initialize(from: o.entries, count: 512)
        backing = o.backing
        inUse = o.inUse
    }
}

/// All page tables of the world, addressed by small integer IDs (ID 0 is never used).
///
/// The tables are private to this file. Kernel paths reach an entry, a lock owner or the
/// free lists only through the accessors below, which record the object in the running
/// step's footprint (`log`): one PTE (`pte`), one PMD entry with its deposited table
/// (`pmd`), one PGD/PUD entry (`upper`), the table free lists (`tableAllocator`). The
/// checker and the reports read through the `peek` functions, unlogged; a test checks that
/// no kernel path calls them.
package final class PageTableStore {
    private var pte: RawArray<PTETable>
    private var pmd: RawArray<PMDTable>
    private var upper: RawArray<UpperTable>
    private var freePTE: [Int32] = []
    private var freePMD: [Int32] = []
    private var freeUpper: [Int32] = []
    /// Entries in use of each PMD and upper table (for `free_pgtables`' emptiness test).
    private var pmdUsed: [Int32] = []
    private var upperUsed: [Int32] = []
    /// Bumped whenever a PGD, PUD or PMD entry changes or a table is freed: the MMs' walk
    /// caches (`MM.walkCache`) are valid only in the generation they were filled in. Not
    /// state: a copy of the store starts again at 1, and a copied MM's cache is empty.
    private(set) var walkGeneration: UInt64 = 1
    /// Whether PTE tables keep their entries as of the last check when first written since
    /// (`PTETable.entriesAtLastCheck`), for the incremental checker.
    private(set) var tracksChanges = false
    /// Set through `World.log` while an explorer runs.
    var log: AccessLog?
    /// The user-data check's tracepoints (set by the world).
    weak var userData: (any UserDataEvents)?

    init() {
        pte = RawArray()
        pmd = RawArray()
        upper = RawArray()
        // Slot 0 stands for "no table".
        pte.append(PTETable(backing: PFN(0), tracked: false))
        pte[0].inUse = false
        pmd.append(PMDTable(backing: PFN(0)))
        pmd[0].inUse = false
        upper.append(UpperTable(backing: PFN(0)))
        upper[0].inUse = false
        pmdUsed = [0]
        upperUsed = [0]
    }

    /// A deep copy of every table (the explorer's snapshot).
    init(copying o: PageTableStore) {
        pte = RawArray(o.pte.map(PTETable.init(copying:)))
        pmd = RawArray(o.pmd.map(PMDTable.init(copying:)))
        upper = RawArray(o.upper.map(UpperTable.init(copying:)))
        freePTE = o.freePTE
        freePMD = o.freePMD
        freeUpper = o.freeUpper
        pmdUsed = o.pmdUsed
        upperUsed = o.upperUsed
    }

    deinit {
        for t in pte { t.release() }
        for t in pmd { t.entries.deallocate(); t.deposited.deallocate() }
        for t in upper { t.entries.deallocate() }
        pte.release()
        pmd.release()
        upper.release()
    }

    @inline(__always) private func note(_ o: PointObject, write: Bool, value: UInt64) {
        if _slowPath(accessLogging), let l = log { l.note(o, write: write, value: value) }
    }

    // MARK: entries

    /// One PTE (`ptep_get`).
    @inline(__always) func entry(_ s: PTESlot) -> PTE {
        let v = pte[Int(s.table)].ptes[s.index]
        if _slowPath(accessLogging), let l = log { l.notePTE(s, write: false, value: v.raw) }
        return v
    }
    /// `pte_same(ptep_get(s), expected)`: a revalidation learns only whether the entry is
    /// still the one it read before, so that is all the access tells the thread (and all the
    /// state cache's digest folds).
    @inline(__always) func entrySame(_ s: PTESlot, _ expected: PTE) -> Bool { entryTest(s) { $0 == expected } }
    /// `pte_none(ptep_get(s))`, telling only that.
    @inline(__always) func entryIsNone(_ s: PTESlot) -> Bool { entryTest(s) { $0.isNone } }
    /// A read of an entry that tells the thread only the result of `test`.
    @inline(__always) private func entryTest(_ s: PTESlot, _ test: (PTE) -> Bool) -> Bool {
        let v = pte[Int(s.table)].ptes[s.index]
        let r = test(v)
        if _slowPath(accessLogging), let l = log { l.notePTE(s, write: false, value: v.raw, told: r ? 1 : 2) }
        return r
    }
    /// `set_pte_at`.
    @inline(__always) func setEntry(_ s: PTESlot, _ v: PTE) {
        if _slowPath(accessLogging), let l = log { l.notePTE(s, write: true, value: 0) }
        pte[Int(s.table)].set(s.index, v)
    }
    /// One PMD entry of a PMD table.
    @inline(__always) func pmdEntry(_ table: Int32, _ index: Int) -> PMDEntry {
        let e = pmd[Int(table)].entries[index]
        note(.pmd(table: table, index: index), write: false, value: e.raw)
        return e
    }
    @inline(__always) func setPMDEntry(_ table: Int32, _ index: Int, _ e: PMDEntry) {
        note(.pmd(table: table, index: index), write: true, value: 0)
        let was = pmd[Int(table)].entries[index].isNone
        if was != e.isNone {
            note(.pmd(table: table, index: 512), write: true, value: 0)
            pmdUsed[Int(table)] += was ? 1 : -1
        }
        pmd[Int(table)].entries[index] = e
        walkGeneration &+= 1
    }
    /// Whether a PMD table holds no entry.
    func pmdTableIsEmpty(_ table: Int32) -> Bool {
        note(.pmd(table: table, index: 512), write: false, value: UInt64(pmdUsed[Int(table)]))
        return pmdUsed[Int(table)] == 0
    }
    /// The PTE table deposited with a huge PMD entry (`pgtable_trans_huge_deposit`), 0 if none.
    @inline(__always) func deposited(_ table: Int32, _ index: Int) -> Int32 {
        let d = pmd[Int(table)].deposited[index]
        note(.pmd(table: table, index: index), write: false, value: UInt64(UInt32(bitPattern: d)))
        return d
    }
    @inline(__always) func setDeposited(_ table: Int32, _ index: Int, _ id: Int32) {
        note(.pmd(table: table, index: index), write: true, value: 0)
        pmd[Int(table)].deposited[index] = id
    }
    /// One PGD or PUD entry: the id of the next level's table (0 = none).
    @inline(__always) func upperEntry(_ table: Int32, _ index: Int) -> Int32 {
        let id = upper[Int(table)].entries[index]
        note(.upper(table: table, index: index), write: false, value: UInt64(UInt32(bitPattern: id)))
        return id
    }
    @inline(__always) func setUpperEntry(_ table: Int32, _ index: Int, _ id: Int32) {
        note(.upper(table: table, index: index), write: true, value: 0)
        let was = upper[Int(table)].entries[index] == 0
        if was != (id == 0) {
            note(.upper(table: table, index: 512), write: true, value: 0)
            upperUsed[Int(table)] += was ? 1 : -1
        }
        upper[Int(table)].entries[index] = id
        walkGeneration &+= 1
    }
    /// Whether a PGD or PUD table holds no entry.
    func upperTableIsEmpty(_ table: Int32) -> Bool {
        note(.upper(table: table, index: 512), write: false, value: UInt64(upperUsed[Int(table)]))
        return upperUsed[Int(table)] == 0
    }

    // MARK: locks

    /// The thread holding a PTE table's PTL (0: free).
    @inline(__always) func ptlOwner(_ table: Int32) -> Int32 { pte[Int(table)].ptlOwner }
    @inline(__always) func setPTLOwner(_ table: Int32, _ owner: Int32) {
        note(.ptl(table: table), write: true, value: 0)
        pte[Int(table)].ptlOwner = owner
    }
    /// The thread holding a PMD table's lock (0: free).
    @inline(__always) func pmdLockOwner(_ table: Int32) -> Int32 { pmd[Int(table)].lockOwner }
    @inline(__always) func setPMDLockOwner(_ table: Int32, _ owner: Int32) {
        note(.pmdLock(table: table), write: true, value: 0)
        pmd[Int(table)].lockOwner = owner
    }

    // MARK: allocating and freeing tables

    @inline(never)
    func newPTETable(backing: PFN) -> Int32 {
        note(.tableAllocator, write: true, value: 0)
        if let id = freePTE.popLast() {
            pte[Int(id)].reset()
            userData?.tableCreated(id)
            pte[Int(id)].backing = backing
            pte[Int(id)].inUse = true
            pte[Int(id)].ptlOwner = 0
            return id
        }
        pte.append(PTETable(backing: backing, tracked: tracksChanges))
        return Int32(pte.count - 1)
    }
    func freePTETable(_ id: Int32) {
        note(.tableAllocator, write: true, value: 0)
        walkGeneration &+= 1
        pte[Int(id)].inUse = false
        freePTE.append(id)
    }
    /// The page backing a PTE table (page tables come from the buddy allocator).
    func pteBacking(_ id: Int32) -> PFN { note(.tableAllocator, write: false, value: 0); return pte[Int(id)].backing }

    func newPMDTable(backing: PFN) -> Int32 {
        note(.tableAllocator, write: true, value: 0)
        if let id = freePMD.popLast() {
            pmd[Int(id)].entries.update(repeating: .none, count: 512)
            pmd[Int(id)].deposited.update(repeating: 0, count: 512)
            pmd[Int(id)].backing = backing
            pmd[Int(id)].inUse = true
            pmd[Int(id)].lockOwner = 0
            pmdUsed[Int(id)] = 0
            return id
        }
        pmd.append(PMDTable(backing: backing))
        pmdUsed.append(0)
        return Int32(pmd.count - 1)
    }
    func freePMDTable(_ id: Int32) {
        note(.tableAllocator, write: true, value: 0)
        walkGeneration &+= 1
        pmd[Int(id)].inUse = false
        freePMD.append(id)
    }
    func pmdBacking(_ id: Int32) -> PFN { note(.tableAllocator, write: false, value: 0); return pmd[Int(id)].backing }

    func newUpperTable(backing: PFN) -> Int32 {
        note(.tableAllocator, write: true, value: 0)
        if let id = freeUpper.popLast() {
            upper[Int(id)].entries.update(repeating: 0, count: 512)
            upper[Int(id)].backing = backing
            upper[Int(id)].inUse = true
            upperUsed[Int(id)] = 0
            return id
        }
        upper.append(UpperTable(backing: backing))
        upperUsed.append(0)
        return Int32(upper.count - 1)
    }
    func freeUpperTable(_ id: Int32) {
        note(.tableAllocator, write: true, value: 0)
        walkGeneration &+= 1
        upper[Int(id)].inUse = false
        freeUpper.append(id)
    }
    func upperBacking(_ id: Int32) -> PFN { note(.tableAllocator, write: false, value: 0); return upper[Int(id)].backing }

    // MARK: instrumentation of the user-data check (not kernel state, not logged)

    /// The checker's shadow changed for an entry of table `id`: the table is checked again.
    @inline(__always) func shadowChanged(_ id: Int32) { pte[Int(id)].willWrite() }

    // MARK: instrumentation (unlogged)

    /// A PTE table as the checker reads it.
    package func peekPTETable(_ id: Int32) -> PTETable { pte[Int(id)] }
    /// A PMD table as the checker reads it.
    package func peekPMDTable(_ id: Int32) -> PMDTable { pmd[Int(id)] }
    package func peekUpperTable(_ id: Int32) -> UpperTable { upper[Int(id)] }
    var peekPTETables: RawArray<PTETable> { pte }
    var pteTableCount: Int { pte.count }
    var pmdTableCount: Int { pmd.count }
    var upperTableCount: Int { upper.count }
    /// How many tables of each level are in use (the table allocator's state, as the state
    /// cache hashes it).
    var tablesInUse: Int {
        var n = 0
        for t in pte where t.inUse { n += 1 }
        for t in pmd where t.inUse { n += 1 << 20 }
        for t in upper where t.inUse { n += 1 << 40 }
        return n
    }

    /// After an invariant check: every table counts as unchanged; with `tracking`, a table
    /// keeps its entries as of now when it is next written.
    func checked(tracking: Bool) {
        tracksChanges = tracking
        for t in pte { t.checked(tracking: tracking) }
    }

    /// Whether some PTL or PMD lock is held.
    var anyLockHeld: Bool { pte.contains { $0.ptlOwner != 0 } || pmd.contains { $0.lockOwner != 0 } }

    /// Bytes of simulator memory held by page tables (PTE tables include the checker shadow).
    package var footprintBytes: Int {
        pte.count * (PTETable.bytes + MemoryLayout<PTETable>.stride)
            + pmd.count * (512 * 12 + MemoryLayout<PMDTable>.stride)
            + upper.count * (512 * 4 + MemoryLayout<UpperTable>.stride)
    }
}
