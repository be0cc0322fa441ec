import FolioSimModel

/// The state of an explored run as one 64-bit hash, kept up to date step by step, for the
/// state cache (SPIN's hash compaction): the model's objects (`World.stateKeys`) under
/// canonical names, the user-activity record the pin checks read, and each thread's state.
///
/// **Cost follows change.** The model part is a wrapping sum of one hash per object. After a
/// step, only the objects the step wrote (its access log, complete by construction: every
/// model write goes through a recording accessor) are hashed again; the sum loses their old
/// hashes and gains the new ones.
///
/// **Canonical names.** A frame allocated in the run is named by who allocated it: the
/// thread, its operation number and the allocation's number in that operation, plus the page's
/// index in the folio; a swap slot likewise. Page-table objects are named by the frame that
/// backs the table. Frames and slots of the config's `steps` keep their numbers. So two runs
/// in which threads allocate in a different order and end alike hash alike. What is left
/// out: where the free frames and slots are (the allocator counts free blocks per order, the
/// swap device its used slots). States that differ only there are taken as one; they differ
/// only in which frame or slot a later allocation gets, unless an allocation fails for
/// fragmentation, which the race configs' small mappings in a large memory never meet.
///
/// **Thread state as a digest.** A kernel path keeps local state across its scheduling
/// points (GUP-fast's seqcount and pages, wp_page_copy's new folio, copy_pte_range's
/// progress). A step is deterministic: what it does depends only on the thread's state
/// before it and on the values of the objects it reads, which no other thread changes while
/// it runs. So a thread's state is a function of its operation number and of the values its
/// steps read since that operation began, in order: the digest folds, for every read of
/// every step, the hash the object had when the step began. The operation's start resets it;
/// a thread between operations, or done, is its operation number alone.
final class StateHasher {
    /// The model's object hashes as the config's steps left them, computed once per search.
    final class Base {
        let objects: U64Table<UInt64>
        let sum: UInt64
        init(_ world: World) {
            let hashes = StateHasher.objectHashes(world, StateNames(clocks: true))
            var table = U64Table<UInt64>(minimumCapacity: hashes.count)
            for (k, v) in hashes { table[k] = v }
            objects = table
            sum = hashes.values.reduce(0, &+)
        }
    }

    struct ThreadPart {
        var operations = 0
        var digest: UInt64 = 0
        var allocations: UInt64 = 0
        /// Steps taken in the operation (so a thread's state never recurs within it).
        var steps: UInt64 = 0
    }

    private let world: World
    private var objects: U64Table<UInt64>
    private var sum: UInt64
    private var parts: [ThreadPart]
    private var written: [UInt64] = []
    /// Each mmap_lock's write-locked VMAs as the last step left them (`observed`).
    private var mmapLockSeen: [UInt64: UInt64] = [:]
    let names = StateNames(clocks: true)

    init(world: World, base: Base, threads: Int) {
        self.world = world
        objects = base.objects
        sum = base.sum
        parts = Array(repeating: ThreadPart(), count: threads)
        for mm in world.mms { mmapLockSeen[PointObject.mmapLock(mm: mm.index).key] = world.vmaWriteLocks(mm) }
    }

    static func objectHash(_ canonicalKey: UInt64, _ value: UInt64) -> UInt64 {
        StateFold.mix(canonicalKey &* 0x2545_F491_4F6C_DD1D ^ value)
    }

    /// Every object that holds something, by key, with its hash under `names`: the walk from
    /// scratch that the incremental upkeep must always equal.
    static func objectHashes(_ world: World, _ names: StateNames) -> [UInt64: UInt64] {
        var out: [UInt64: UInt64] = [:]
        for k in world.stateKeys() {
            if let v = world.objectValue(k, names) { out[k] = objectHash(world.canonicalKey(k, names), v) }
        }
        return out
    }

    /// The step of thread `t` that `log` recorded has ended (`began`: it started an
    /// operation). Call before anything else reads the model into the log.
    func stepEnded(thread t: Int, began: Bool, log: AccessLog) {
        if began { parts[t] = ThreadPart(operations: parts[t].operations + 1) }
        for a in log.allocations {
            let start = Int(a & 0xFFFF_FFFF), count = Int((a >> 32) & 0x7FFF_FFFF)
            let name = StateFold.of([UInt64(t), UInt64(parts[t].operations), parts[t].allocations]) << 10 | 1 << 63
            parts[t].allocations += 1
            for i in 0..<count {
                if a >> 63 != 0 { names.slots[start + i] = name | UInt64(i) } else { names.frames[UInt32(start + i)] = name | UInt64(i) }
            }
        }
        var d = parts[t].digest
        for a in log.allocations { d = StateFold.mix(d ^ a >> 32) }
        written.removeAll(keepingCapacity: true)
        for (i, e) in log.objects.enumerated() {
            guard let k = World.valueKey(e >> 1) else { continue }
            let told = log.told[i]
            let seen = told == AccessLog.whole ? observed(k, write: e & 1 != 0) : StateFold.mix(told ^ 0x7E11 ^ (k >> 56) << 48)
            d = StateFold.mix(d ^ seen ^ (e & 1) << 62)
            // Shared lock acquisitions and releases, and GUP-fast's interrupts-off section
            // (`tableFree`), are recorded as reads (two readers commute) but change state.
            let kind = k >> 56
            guard e & 1 != 0 || kind <= 5 || kind == 24 else { continue }
            written.append(k)
            switch kind {
            case 2:
                // vma_start_write: the write-locked VMAs are part of the mmap_lock's value.
                written.append(PointObject.mmapLock(mm: Int((k & ((1 << 56) - 1)) >> 32)).key)
            case 7:
                // A page's flags say whether the frame heads a folio (split, free).
                let pfn = PFN(UInt32(truncatingIfNeeded: k))
                written.append(PointObject.folio(pfn).key)
                written.append(PointObject.folioLock(pfn).key)
            case 22:
                // fork and exit create and end mms, with objects of their own.
                for mm in world.mms { written += World.mmObjectKeys(mm.index) }
            default: break
            }
        }
        parts[t].digest = StateFold.mix(d ^ parts[t].steps)
        parts[t].steps += 1
        written.sort()
        var previous = UInt64.max
        for k in written where k != previous {
            previous = k
            let old = objects[k] ?? 0
            let new = world.objectValue(k, names).map { StateHasher.objectHash(world.canonicalKey(k, names), $0) }
            sum = sum &- old &+ (new ?? 0)
            objects[k] = new
            if k >> 56 == 1 { mmapLockSeen[k] = world.vmaWriteLocks(world.mms[Int(k & 0xFFFF_FFFF)]) }
        }
    }

    /// What a thread may learn from touching object `k` as the step began, where the
    /// accessor could not say exactly (`AccessLog.told`). Writes count too: a write may be a read-modify-write whose result the path uses (`folio_put`
    /// frees at zero, `ptep_get_and_clear` returns the old entry). A lock tells only whether
    /// it is held (a shared acquisition, recorded as a read, learns that no writer holds it;
    /// which threads hold it, or how many readers, changes nothing the thread does), the
    /// mmap_lock also which VMAs its writer has write-locked; GUP-fast's interrupts-off
    /// section (`tableFree`) tells the walker nothing. An allocation learns only whether it
    /// succeeded (folded from `AccessLog.allocations`), and the frame it got is named by the
    /// allocation; the backing frame of a table follows from the table. Anything else: its
    /// whole value.
    private func observed(_ k: UInt64, write: Bool) -> UInt64 {
        switch k >> 56 {
        case 1: return mmapLockSeen[k] ?? 0x5EED
        case 2, 24, 16, 17: return 0x10CC
        case 19 where write: return 0x10CC
        case 3, 4, 5: return objects[k] == nil ? 0xF4EE : 0x4E1D
        default: return objects[k] ?? 0x5EED
        }
    }

    /// The hash of the whole state: the model, the user-activity record, the errors so far
    /// and every thread (its status as `status(t)` gives it: 0 done, 1 between operations,
    /// 2 parked in an operation, 3 blocked on a lock).
    func hash(errors: Int, status: (Int) -> UInt64) -> UInt64 {
        var h = sum &+ StateFold.mix(activityHash() ^ UInt64(errors) << 48)
        for t in parts.indices {
            let s = status(t)
            let p = parts[t]
            let th = s <= 1 ? StateFold.of([UInt64(t), s, UInt64(p.operations)]) : StateFold.of([UInt64(t), s, UInt64(p.operations), p.digest])
            h &+= StateFold.mix(th)
        }
        return h
    }

    var modelHash: UInt64 { sum }

    /// The model's object hashes computed afresh under the run's names (exact mode).
    func freshObjectHashes() -> [UInt64: UInt64] { StateHasher.objectHashes(world, names) }

    /// The objects whose kept hash differs from `fresh` (for exact mode's report).
    func staleObjects(_ fresh: [UInt64: UInt64]) -> [String] {
        Set(fresh.keys).union(objects.sortedKeys).sorted().filter { fresh[$0] != objects[$0] }.map { PointObject.from(key: $0).description }
    }

    private func activityHash() -> UInt64 {
        let a = world.userActivity
        var parts: [UInt64] = [UInt64(a.clock)]
        for c in a.changes {
            let kind: UInt64
            switch c.kind {
            case .unmap: kind = 1
            case .move(let to): kind = 2 ^ to << 2
            case .pageout: kind = 3
            }
            parts += [UInt64(c.mm), c.start, c.end, kind, UInt64(c.began), UInt64(bitPattern: Int64(c.ended ?? -1))]
        }
        return StateFold.of(parts)
    }
}
