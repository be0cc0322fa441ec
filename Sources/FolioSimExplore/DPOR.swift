import FolioSimModel

/// Dynamic partial-order reduction (Flanagan and Godefroid, POPL 2005), stateless, over the
/// footprints the model's accessors record.
///
/// A run replays the stack of decisions and extends it with default choices (the thread
/// that ran last, else the first runnable one). When it ends, every race of the run adds a
/// backtrack point: for two steps of different threads that touch a common object (one
/// writing it) with no happens-before path between them but that conflict, the later step's
/// thread is scheduled at the node before the earlier step (or every runnable thread, if it
/// could not run there). Races are found two ways:
/// - between executed steps, from their complete footprints (vector clocks give
///   happens-before; only immediate races, those not implied by a chain of others, count);
/// - between an executed step and the *pending* step of another thread at each node (the
///   object its scheduling point names): Flanagan and Godefroid's `next(s, p)`, which catches
///   a race with a step the thread only takes later, e.g. two acquisitions of one lock, of
///   which the second waited for the first thread's release.
///
/// **Unbounded** (`bound == nil`), sleep sets (Godefroid) prune further: a thread whose step
/// at a node was explored stays asleep in the later siblings until a conflicting step runs.
/// FG prove DPOR with sleep sets complete for deadlocks and assertion violations on acyclic
/// state spaces (every FolioSim run ends: ops are finite and `maxSteps` bounds a run).
///
/// **Under a preemption bound** (Coons, Musuvathi, McKinley, "Bounded partial-order
/// reduction", OOPSLA 2013): a backtrack point that would need a preemption beyond the bound
/// is dropped, and for every backtrack point another, *conservative* one goes at the start
/// of the block of steps the earlier step belongs to: there the run already switched
/// threads, so scheduling the racing thread instead costs no more preemptions. Sleep sets are
/// not used under a bound: the sibling trace a sleeping thread stands for may need more
/// preemptions than the bound allows (with threads A: a1 a2 and B: b1, where only a2 and b1
/// conflict, bound 0: after a1 a2 b1, b1 a1 a2 is equivalent to a1 b1 a2, which needs a
/// preemption; sleep sets would prune it and lose b1 a1 a2's end state).
///
/// **With a state cache** (`StateCache`, Yang, Chen, Gopalakrishnan, Kirby, "Efficient
/// stateful dynamic partial order reduction", SPIN 2008): a run stops at a state whose
/// subtree was explored already (with no more preemptions and no thread asleep now that was
/// awake then). Stopping there would lose the races between this run's steps and the steps
/// of that subtree, which stateless DPOR finds by running them; so every state keeps a
/// summary of its explored subtree (each step's thread and footprint, and the steps other
/// threads were parked at), and the races of the summary's events with the run's steps are
/// added as if each came next. That is conservative: in the subtree an event comes later,
/// after steps that may order it after the run's (fewer races) or hide the run's step behind
/// a later conflicting one (a race with that one instead, which the summary also holds).
/// Races inside the subtree do not depend on how the state was reached (happens-before
/// between two later steps runs through later steps only). A state's summary is complete
/// when the search leaves it (every state's thread digest grows with each step, so a state
/// never recurs on its own path: the state graph is acyclic).
///
/// The differential tests (ReductionTests) compare verdicts and end states with plain DFS
/// at bounds 0–3 and unbounded over every race config and generated programs.
final class DPOR {
    struct Node {
        var enabled: ThreadSet
        /// The thread of the previous step (-1 at the root).
        var last: Int
        var preemptionsBefore: Int
        var chosen: Int
        /// Threads to explore here (including those explored).
        var backtrack = ThreadSet()
        /// Threads explored here.
        var done = ThreadSet()
        /// The sleep set on entry (unbounded search only).
        var sleep = ThreadSet()
        /// The state's key in the cache (nil: no cache).
        var stateKey: UInt64?
        /// The events of the subtree explored from here so far (with a cache).
        var summary = EventSummary()
        func isPreemption(_ t: Int) -> Bool { enabled.contains(last) && t != last }
    }

    let bound: Int?
    let threads: Int
    private(set) var stack: [Node] = []
    /// Footprints of steps explored at a node (for sleep sets): `[depth * threads + thread]`.
    private var takenFootprints: [Footprint?] = []
    private var sleepFootprints: [Footprint?] = []
    private var carried = ThreadSet()
    private var carriedFootprints: [Footprint?]

    /// The current run: each step's thread and footprint, and at each node the key and
    /// access of every thread's pending step (`UInt64.max`: none).
    private var runThread: [Int] = []
    private var runFootprint: [Footprint] = []
    private var runPending: [UInt64] = []
    /// Backtrack points added by the last analysis (a figure for tests).
    private(set) var racesFound = 0

    let cache: StateCache?
    /// The subtree summary of the state the last run stopped at (matched in the cache).
    private var matchedSummary: EventSummary?
    /// The first node whose step the last run took anew (earlier ones were replayed).
    private var firstNew = 0

    /// The thread every run starts with (`--jobs`: one subtree of the root), or nil.
    let rootChoice: Int?

    /// Threads asleep at the root (`--jobs`: earlier subtrees whose first step is
    /// independent of `rootChoice`'s), with their first steps' footprints.
    private let rootSleep: [(thread: Int, footprint: Footprint)]

    init(bound: Int?, threads: Int, cache: StateCache? = nil, rootChoice: Int? = nil,
         rootSleep: [(thread: Int, footprint: Footprint)] = []) {
        self.rootChoice = rootChoice
        self.rootSleep = rootSleep
        self.bound = bound
        self.threads = threads
        self.cache = cache
        carriedFootprints = Array(repeating: nil, count: threads)
    }

    var usesSleepSets: Bool { bound == nil }

    /// Runs the schedule the stack describes, extending it with default choices, then adds
    /// the backtrack points of its races.
    func run(_ snapshot: Snapshot, maxSteps: Int, ignored: Set<String> = []) async -> RunOutcome {
        carried = ThreadSet()
        for (t, f) in rootSleep where usesSleepSets {
            carried.insert(t)
            carriedFootprints[t] = f
        }
        matchedSummary = nil
        // The steps before `firstNew` replay the last run's: their thread, footprint and
        // pending steps stay as that run recorded them.
        firstNew = min(max(0, stack.count - 1), runThread.count)
        runThread.removeSubrange(firstNew...)
        runFootprint.removeSubrange(firstNew...)
        runPending.removeSubrange(min(runPending.count, firstNew * threads)...)
        let o = await Explorer.runOnce(snapshot, tracing: false, maxSteps: maxSteps, ignored: ignored, hashing: cache != nil,
                                       replayed: firstNew,
                                       choose: { ex, en, d in self.choose(ex, en, depth: d) },
                                       observe: { d, c, log in self.observe(depth: d, thread: c, log: log) })
        analyze()
        return o
    }

    private func choose(_ ex: Execution, _ en: ThreadSet, depth d: Int) -> Int? {
        if d >= firstNew { notePending(ex) }
        if d < stack.count { return stack[d].chosen }
        let last = d == 0 ? -1 : stack[d - 1].chosen
        let pre = d == 0 ? 0 : stack[d - 1].preemptionsBefore + (stack[d - 1].isPreemption(stack[d - 1].chosen) ? 1 : 0)
        let asleep = usesSleepSets ? carried : ThreadSet()
        let awake = en.subtracting(asleep)
        var stateKey: UInt64?
        if let cache {
            switch cache.visit(ex, preemptions: pre, last: last, sleep: asleep) {
            case .new(let key)?: stateKey = key
            case .matched(let summary)?: matchedSummary = summary; return nil
            case nil: return nil
            }
        }
        let pick: Int?
        if d == 0, let r = rootChoice { pick = awake.contains(r) ? r : nil } else { pick = awake.contains(last) ? last : awake.first }
        guard let c = pick else { return nil }
        var node = Node(enabled: en, last: last, preemptionsBefore: pre, chosen: c)
        node.backtrack.insert(c)
        node.done.insert(c)
        node.sleep = asleep
        node.stateKey = stateKey
        cache?.transitions += 1
        cache?.maxDepth = max(cache?.maxDepth ?? 0, d + 1)
        growFootprintTables(d)
        for t in 0..<threads {
            takenFootprints[d * threads + t] = nil
            sleepFootprints[d * threads + t] = asleep.contains(t) ? carriedFootprints[t] : nil
        }
        stack.append(node)
        return c
    }

    private func growFootprintTables(_ d: Int) {
        let need = (d + 1) * threads
        if takenFootprints.count < need {
            takenFootprints.append(contentsOf: repeatElement(nil, count: need - takenFootprints.count))
            sleepFootprints.append(contentsOf: repeatElement(nil, count: need - sleepFootprints.count))
        }
    }

    /// Every thread's pending step at this node, for the lookahead races.
    private func notePending(_ ex: Execution) {
        for t in 0..<threads { runPending.append(ex.pendingKey(t)) }
    }

    private func observe(depth d: Int, thread c: Int, log: AccessLog) {
        if d < firstNew { return }
        let f = log.footprint()
        runThread.append(c)
        runFootprint.append(f)
        guard d == stack.count - 1 else { return }
        takenFootprints[d * threads + c] = f
        guard usesSleepSets else { return }
        var next = ThreadSet()
        let base = d * threads
        for t in stack[d].sleep.union(stack[d].done) where t != c {
            guard let tf = stack[d].sleep.contains(t) ? sleepFootprints[base + t] : takenFootprints[base + t] else { continue }
            if !tf.conflicts(with: f) {
                next.insert(t)
                carriedFootprints[t] = tf
            }
        }
        carried = next
    }

    // MARK: races

    /// The accesses to each object in the run so far, for `analyze`: the last write and the
    /// reads since it (a list through `readNext`). Flat arrays, kept between runs.
    private var objectIndex = U64Table<Int32>()
    private var lastWrite: [Int32] = []
    private var readHead: [Int32] = []
    private var readEvent: [Int32] = []
    private var readNext: [Int32] = []

    /// Vector clocks of the last analysed run (`[event * threads + thread]`) and each event's
    /// own count, valid for its first `analyzed` events.
    private var clock: [Int32] = []
    private var local: [Int32] = []
    private var analyzed = 0

    private func resetObjects() {
        objectIndex.removeAll()
        lastWrite.removeAll(keepingCapacity: true)
        readHead.removeAll(keepingCapacity: true)
        readEvent.removeAll(keepingCapacity: true)
        readNext.removeAll(keepingCapacity: true)
    }

    /// Event `i` accessed `key`.
    private func record(_ key: UInt64, write: Bool, event i: Int) {
        let o: Int
        if let found = objectIndex[key] {
            o = Int(found)
        } else {
            o = lastWrite.count
            objectIndex[key] = Int32(o)
            lastWrite.append(-1)
            readHead.append(-1)
        }
        if write {
            lastWrite[o] = Int32(i)
            readHead[o] = -1
        } else {
            readEvent.append(Int32(i))
            readNext.append(readHead[o])
            readHead[o] = Int32(readEvent.count - 1)
        }
    }

    /// The working state of one `analyze` pass. It lives in a local (a class member would be
    /// checked for uniqueness at every write) that the helpers take inout.
    private struct Analysis {
        let threads: Int
        /// `[event * threads + thread]`: the vector clock of each event.
        var clock: [Int32]
        /// Each event's own count (its place among its thread's events, from 1).
        var local: [Int32]
        /// Each thread's last event so far (-1: none yet) and its number of events.
        var lastOf: [Int]
        var counts: [Int32]
        /// Scratch for one event: its direct conflicting predecessors, and the clock they add up to.
        var preds: [Int] = []
        var acc: [Int32]

        init(threads tn: Int, clock: [Int32], local: [Int32]) {
            threads = tn
            self.clock = clock
            self.local = local
            lastOf = [Int](repeating: -1, count: tn)
            counts = [Int32](repeating: 0, count: tn)
            acc = [Int32](repeating: 0, count: tn)
        }

        /// Whether event `j`, of thread `q`, happens before the current state of thread `p`
        /// (its last event).
        @inline(__always)
        func happensBefore(_ j: Int, of q: Int, _ p: Int) -> Bool {
            let prev = lastOf[p]
            return prev >= 0 && clock[prev * threads + q] >= local[j]
        }
    }

    /// Adds the backtrack points of the last run's races.
    private func analyze() {
        let n = runThread.count
        let valid = analyzed
        analyzed = 0
        guard n > 1 else { return }
        let tn = threads
        var a = Analysis(threads: tn, clock: self.clock, local: self.local)
        self.clock = []
        self.local = []
        defer {
            self.clock = a.clock
            self.local = a.local
        }
        if a.clock.count < n * tn { a.clock.append(contentsOf: repeatElement(0, count: n * tn - a.clock.count)) }
        if a.local.count < n { a.local.append(contentsOf: repeatElement(0, count: n - a.local.count)) }
        resetObjects()
        racesFound = 0
        // The first `firstNew` events are the last run's (its stack, replayed): their vector
        // clocks stand, and their races added their backtrack points then (set unions, so
        // adding them again changes nothing). Only the object tables are rebuilt.
        let known = min(firstNew, valid, n)
        for i in 0..<known {
            let p = runThread[i]
            a.counts[p] += 1
            a.lastOf[p] = i
            for e in runFootprint[i].entries { record(e >> 1, write: e & 1 != 0, event: i) }
        }
        analyzed = n
        for i in known..<n {
            addLookaheadRaces(at: i, &a)
            addRaces(of: i, &a)
        }
        guard cache != nil else { return }
        if let summary = matchedSummary { addSubtreeRaces(summary, &a, events: n) }
        addToSummaries(events: n)
    }

    /// Lookahead: the races of the pending step of every other thread at node `i` with the
    /// steps before `i` (the object tables hold events < i).
    @inline(__always)
    private func addLookaheadRaces(at i: Int, _ a: inout Analysis) {
        let tn = threads
        for p in 0..<tn where p != runThread[i] {
            let key = runPending[i * tn + p]
            guard key != UInt64.max else { continue }
            forEachConflict(key >> 1, write: key & 1 != 0) { j in
                if runThread[j] != p && !a.happensBefore(j, of: runThread[j], p) { addBacktrack(j, p) }
            }
        }
    }

    /// The races of event `i` with its direct conflicting predecessors, taken latest first so
    /// that one ordered before `i` through a later one does not count; then `i`'s vector clock
    /// and its accesses join the tables.
    @inline(__always)
    private func addRaces(of i: Int, _ a: inout Analysis) {
        let tn = threads
        let p = runThread[i]
        a.preds.removeAll(keepingCapacity: true)
        for e in runFootprint[i].entries {
            forEachConflict(e >> 1, write: e & 1 != 0) { j in a.preds.append(j) }
        }
        a.preds.sort(by: >)
        for t in 0..<tn { a.acc[t] = a.lastOf[p] >= 0 ? a.clock[a.lastOf[p] * tn + t] : 0 }
        var previous = -1
        for j in a.preds where j != previous {
            previous = j
            let q = runThread[j]
            if q != p && a.acc[q] < a.local[j] { addBacktrack(j, p) }
            for t in 0..<tn { a.acc[t] = max(a.acc[t], a.clock[j * tn + t]) }
        }
        a.counts[p] += 1
        a.local[i] = a.counts[p]
        a.acc[p] = a.counts[p]
        for t in 0..<tn { a.clock[i * tn + t] = a.acc[t] }
        a.lastOf[p] = i
        for e in runFootprint[i].entries { record(e >> 1, write: e & 1 != 0, event: i) }
    }

    /// The races of the events of the subtree the run stopped at (`summary`) with the run's
    /// `n` events, as if each came next; the last node's subtree now includes them.
    private func addSubtreeRaces(_ summary: EventSummary, _ a: inout Analysis, events n: Int) {
        summary.forEach { entry, p in
            forEachConflict(entry >> 1, write: entry & 1 != 0) { j in
                if runThread[j] != p && !a.happensBefore(j, of: runThread[j], p) { addBacktrack(j, p) }
            }
        }
        if n > 0 && n <= stack.count { stack[n - 1].summary.formUnion(summary) }
    }

    /// Adds this run's new events (each step, and the steps other threads were parked at) to
    /// the summaries of the nodes they were taken from.
    private func addToSummaries(events n: Int) {
        let tn = threads
        var events: [(entry: UInt64, thread: Int)] = []
        for i in min(firstNew, n)..<min(n, stack.count) {
            events.removeAll(keepingCapacity: true)
            for e in runFootprint[i].entries { events.append((e, runThread[i])) }
            for p in 0..<tn where p != runThread[i] {
                let key = runPending[i * tn + p]
                if key != UInt64.max { events.append((key, p)) }
            }
            stack[i].summary.formUnion(EventSummary(events))
        }
    }

    /// The earlier events that conflict with an access to `key`: the last write, and for a
    /// write also the reads since it. Others are ordered before these. An access to the
    /// unknown object conflicts with the accesses to every object, in key order.
    private func forEachConflict(_ key: UInt64, write: Bool, _ body: (Int) -> Void) {
        func visit(_ o: Int) {
            if lastWrite[o] >= 0 { body(Int(lastWrite[o])) }
            guard write else { return }
            var r = readHead[o]
            while r >= 0 {
                body(Int(readEvent[Int(r)]))
                r = readNext[Int(r)]
            }
        }
        if key == AccessKey.unknownKey {
            for k in objectIndex.sortedKeys { visit(Int(objectIndex[k]!)) }
            return
        }
        if let o = objectIndex[key] { visit(Int(o)) }
        if let u = objectIndex[AccessKey.unknownKey] { visit(Int(u)) }
    }

    /// Schedules `p` at node `j` (every runnable thread if `p` could not run there), and under
    /// a bound also conservatively at the start of `j`'s block of steps.
    private func addBacktrack(_ j: Int, _ p: Int) {
        guard j < stack.count else { return }
        racesFound += 1
        add(j, p)
        guard bound != nil else { return }
        var k = j
        while k > 0 && runThread[k - 1] == runThread[j] { k -= 1 }
        if k != j { add(k, p) }
    }

    private func add(_ j: Int, _ p: Int) {
        let en = stack[j].enabled
        stack[j].backtrack = stack[j].backtrack.union(en.contains(p) ? ThreadSet(bits: 1 << UInt32(p)) : en)
    }

    /// Moves to the next unexplored schedule; false when the search is complete.
    func backtrack() -> Bool {
        while let node = stack.last {
            let d = stack.count - 1
            for c in node.backtrack.subtracting(node.done) where d > 0 || rootChoice == nil {
                if usesSleepSets && node.sleep.contains(c) { continue }
                if let b = bound, node.preemptionsBefore + (node.isPreemption(c) ? 1 : 0) > b { continue }
                stack[d].chosen = c
                stack[d].done.insert(c)
                cache?.transitions += 1
                return true
            }
            let done = stack.removeLast()
            if let cache, let key = done.stateKey {
                cache.finish(key, preemptions: Int32(bound == nil ? 0 : done.preemptionsBefore), sleep: done.sleep, summary: done.summary)
                if d > 0 { stack[d - 1].summary.formUnion(done.summary) }
            }
        }
        return false
    }
}
