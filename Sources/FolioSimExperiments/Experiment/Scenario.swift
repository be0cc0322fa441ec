import FolioSimModel
import FolioSimExplore

/// How a mapping is backed, as a config names it.
public enum MapSpec: Equatable, Sendable {
    case privateAnon
    case privateFile(name: String, kind: FileKind, offset: UInt64)
    case sharedFile(name: String, kind: FileKind, offset: UInt64)
}

/// The access pattern of a `touch` op.
public enum TouchPattern: Equatable, Sendable {
    /// Every page in order, `count` times through the range (default once).
    case seq
    /// `count` pages chosen by the LCG x ← x·6364136223846793005 + 1442695040888963407 (mod
    /// 2^64), page = (x >> 33) mod pages, from x = seed: the generator of the earlier C host
    /// check wl_sparse.c; kernel-diff's helper touches the same pages (`addresses`).
    case random(seed: UInt64)
    /// Every `stride`-th page from the start, `count` pages (default: to the end).
    case stride(UInt64)
}

extension Scenario {
    /// A fresh simulated machine of the config's memory, swap, rules and THP settings.
    func newWorld() -> World {
        World(memoryBytes: memoryBytes, swapBytes: swapBytes, semantics: semantics, thp: thp)
    }
}

extension TouchPattern {
    /// The addresses a `touch` step of `size` bytes at `addr` accesses, generated one at a
    /// time (a 256 GiB range is never materialised): what FolioSim and kernel-diff's host
    /// helper both touch.
    public func addresses(_ addr: UInt64, _ size: UInt64, count: Int?) -> AnySequence<UInt64> {
        let npages = size >> Geometry.pageShift
        switch self {
        case .seq:
            let passes = count ?? 1
            return AnySequence((0..<passes).lazy.flatMap { _ in Swift.stride(from: addr, to: addr + size, by: Int(Geometry.pageSize)) })
        case .random(let seed):
            let n = count ?? 1
            return AnySequence(sequence(state: (x: seed, k: 0)) { st -> UInt64? in
                guard st.k < n else { return nil }
                st.k += 1
                st.x = st.x &* 6364136223846793005 &+ 1442695040888963407
                return addr + ((st.x >> 33) % npages) << Geometry.pageShift
            })
        case .stride(let s):
            let n = count ?? Int((npages + s - 1) / s)
            let step = s % npages
            return AnySequence((0..<n).lazy.map { k -> UInt64 in
                // (k * s) mod npages without overflow: both factors reduced first.
                let r = npages.dividingFullWidth((UInt64(k) % npages).multipliedFullWidth(by: step)).remainder
                return addr + r << Geometry.pageShift
            })
        }
    }
}

/// One operation of a scenario.
public enum Op: Equatable, Sendable {
    case mmap(proc: String, addr: UInt64, size: UInt64, prot: Prot, map: MapSpec)
    case munmap(proc: String, addr: UInt64, size: UInt64)
    case mprotect(proc: String, addr: UInt64, size: UInt64, prot: Prot)
    case madvise(proc: String, addr: UInt64, size: UInt64, advice: Advice)
    case mremap(proc: String, addr: UInt64, size: UInt64, to: UInt64)
    /// Store `value` into one byte of every 4 KiB page of the range, in order.
    case write(proc: String, addr: UInt64, size: UInt64, value: UInt32)
    /// Load one byte of every page; `expect` checks the value.
    case read(proc: String, addr: UInt64, size: UInt64, expect: UInt32?)
    case touch(proc: String, addr: UInt64, size: UInt64, pattern: TouchPattern, count: Int?, write: Bool, value: UInt32)
    case fork(proc: String, child: String)
    case exit(proc: String)
    case pin(proc: String, addr: UInt64, size: UInt64, flags: GUPFlags, fast: Bool, id: String)
    case unpin(id: String)
    case checkPin(id: String)
    /// `vmsplice` of the range into a pipe: FOLL_GET references, at most 16 pages.
    case vmsplice(proc: String, addr: UInt64, size: UInt64, pipe: String)
    /// Reads the pipe: the referenced pages' data now; drops the references.
    case readPipe(proc: String, pipe: String, expect: UInt32?)
    /// io_uring fixed-buffer registration: FOLL_WRITE | FOLL_PIN | FOLL_LONGTERM, held as `id`.
    case iouringRegister(proc: String, addr: UInt64, size: UInt64, id: String)
    /// gup_test PIN_LONGTERM_TEST_START: an R/O long-term pin (`pin_user_pages[_fast]`).
    case gupTestPin(proc: String, addr: UInt64, size: UInt64, fast: Bool, id: String)
    /// Reads through a held pin (IORING_OP_WRITE_FIXED, gup_test PIN_LONGTERM_TEST_READ).
    case readPin(id: String, expect: UInt32?)
    /// `echo 4 > /proc/PID/clear_refs`: clear soft-dirty.
    case clearRefs(proc: String)
    /// Replays a real program's trace (PerfTrace.swift, TraceReplay.swift).
    case trace(file: String, trace: PerfTrace)

    public var name: String {
        switch self {
        case .mmap: "mmap"
        case .munmap: "munmap"
        case .mprotect: "mprotect"
        case .madvise: "madvise"
        case .mremap: "mremap"
        case .write: "write"
        case .read: "read"
        case .touch: "touch"
        case .fork: "fork"
        case .exit: "exit"
        case .pin: "pin"
        case .unpin: "unpin"
        case .checkPin: "checkPin"
        case .vmsplice: "vmsplice"
        case .readPipe: "readPipe"
        case .iouringRegister: "iouringRegister"
        case .gupTestPin: "gupTestPin"
        case .readPin: "readPin"
        case .clearRefs: "clearRefs"
        case .trace: "trace"
        }
    }

    /// A short description for reports: `write P 0x40000000 8M`.
    public var summary: String {
        func a(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }
        switch self {
        case .mmap(let p, let addr, let size, let prot, _): return "mmap \(p) \(a(addr)) \(formatSize(size)) \(protString(prot))"
        case .munmap(let p, let addr, let size): return "munmap \(p) \(a(addr)) \(formatSize(size))"
        case .mprotect(let p, let addr, let size, let prot): return "mprotect \(p) \(a(addr)) \(formatSize(size)) \(protString(prot))"
        case .madvise(let p, let addr, let size, let adv): return "madvise \(p) \(a(addr)) \(formatSize(size)) \(adv.rawValue)"
        case .mremap(let p, let addr, let size, let to): return "mremap \(p) \(a(addr)) \(formatSize(size)) → \(a(to))"
        case .write(let p, let addr, let size, let v): return "write \(p) \(a(addr)) \(formatSize(size)) = \(v)"
        case .read(let p, let addr, let size, _): return "read \(p) \(a(addr)) \(formatSize(size))"
        case .touch(let p, let addr, let size, _, _, let w, _): return "touch \(p) \(a(addr)) \(formatSize(size))\(w ? " write" : " read")"
        case .fork(let p, let c): return "fork \(p) → \(c)"
        case .exit(let p): return "exit \(p)"
        case .pin(let p, let addr, let size, _, let fast, let id): return "pin\(fast ? " fast" : "") \(p) \(a(addr)) \(formatSize(size)) as \(id)"
        case .unpin(let id): return "unpin \(id)"
        case .checkPin(let id): return "checkPin \(id)"
        case .vmsplice(let p, let addr, let size, let pipe): return "vmsplice \(p) \(a(addr)) \(formatSize(size)) into \(pipe)"
        case .readPipe(let p, let pipe, _): return "readPipe \(p) \(pipe)"
        case .iouringRegister(let p, let addr, let size, let id): return "iouringRegister \(p) \(a(addr)) \(formatSize(size)) as \(id)"
        case .gupTestPin(let p, let addr, let size, let fast, let id): return "gupTestPin\(fast ? " fast" : "") \(p) \(a(addr)) \(formatSize(size)) as \(id)"
        case .readPin(let id, _): return "readPin \(id)"
        case .clearRefs(let p): return "clearRefs \(p)"
        case .trace(let file, let t): return "trace \(file.split(separator: "/").last.map(String.init) ?? file) (\(t.events.count) events)"
        }
    }
}

extension Op {
    /// The process a step acts in (nil for ops on a pin and for a trace, whose processes
    /// come from the trace).
    var process: String? {
        switch self {
        case .mmap(let p, _, _, _, _), .munmap(let p, _, _), .mprotect(let p, _, _, _), .madvise(let p, _, _, _),
             .mremap(let p, _, _, _), .write(let p, _, _, _), .read(let p, _, _, _), .touch(let p, _, _, _, _, _, _),
             .fork(let p, _), .exit(let p), .pin(let p, _, _, _, _, _), .vmsplice(let p, _, _, _), .readPipe(let p, _, _),
             .iouringRegister(let p, _, _, _), .gupTestPin(let p, _, _, _, _), .clearRefs(let p):
            p
        case .unpin, .checkPin, .readPin, .trace:
            nil
        }
    }
}

extension Scenario {
    /// Every process the steps name: a `proc`, or a fork's `child`.
    var processNames: Set<String> {
        var names: Set<String> = []
        for step in steps + threads.flatMap(\.steps) + after {
            if let p = step.op.process { names.insert(p) }
            if case .fork(_, let child) = step.op { names.insert(child) }
        }
        return names
    }
}

func protString(_ p: Prot) -> String {
    if p.isEmpty { return "none" }
    return (p.contains(.read) ? "r" : "") + (p.contains(.write) ? "w" : "") + (p.contains(.exec) ? "x" : "")
}

/// One step of a scenario: an op, run `repeatCount` times with its address (and `to`)
/// advanced by `stride` each time (`repeat` / `stride` in a config).
public struct Step: Equatable, Sendable {
    public var op: Op
    public var repeatCount: Int
    public var stride: UInt64
    public init(_ op: Op, repeatCount: Int = 1, stride: UInt64 = 0) {
        self.op = op; self.repeatCount = repeatCount; self.stride = stride
    }
    /// The op of repetition `k`.
    public func op(_ k: Int) -> Op { k == 0 ? op : op.shifted(by: UInt64(k) * stride) }

    /// The end of the highest range any repetition touches (nil for ops without an address).
    var highestAddress: UInt64? {
        let (base, size, to): (UInt64, UInt64, UInt64?)
        switch op {
        case .mmap(_, let a, let s, _, _), .munmap(_, let a, let s), .mprotect(_, let a, let s, _),
             .madvise(_, let a, let s, _), .write(_, let a, let s, _), .read(_, let a, let s, _),
             .touch(_, let a, let s, _, _, _, _), .pin(_, let a, let s, _, _, _), .vmsplice(_, let a, let s, _),
             .iouringRegister(_, let a, let s, _), .gupTestPin(_, let a, let s, _, _):
            (base, size, to) = (a, s, nil)
        case .mremap(_, let a, let s, let t):
            (base, size, to) = (a, s, t)
        default:
            return nil
        }
        let shift = stride.multipliedReportingOverflow(by: UInt64(repeatCount - 1))
        guard !shift.overflow else { return UInt64.max }
        let high = max(base, to ?? 0).addingReportingOverflow(shift.partialValue)
        let end = high.partialValue.addingReportingOverflow(size)
        return high.overflow || end.overflow ? UInt64.max : end.partialValue
    }
}

extension Op {
    /// The same op at an address `delta` bytes higher.
    public func shifted(by d: UInt64) -> Op {
        switch self {
        case .mmap(let p, let a, let s, let pr, let m): .mmap(proc: p, addr: a + d, size: s, prot: pr, map: m)
        case .munmap(let p, let a, let s): .munmap(proc: p, addr: a + d, size: s)
        case .mprotect(let p, let a, let s, let pr): .mprotect(proc: p, addr: a + d, size: s, prot: pr)
        case .madvise(let p, let a, let s, let adv): .madvise(proc: p, addr: a + d, size: s, advice: adv)
        case .mremap(let p, let a, let s, let to): .mremap(proc: p, addr: a + d, size: s, to: to + d)
        case .write(let p, let a, let s, let v): .write(proc: p, addr: a + d, size: s, value: v)
        case .read(let p, let a, let s, let e): .read(proc: p, addr: a + d, size: s, expect: e)
        case .touch(let p, let a, let s, let pat, let c, let w, let v): .touch(proc: p, addr: a + d, size: s, pattern: pat, count: c, write: w, value: v)
        default: self
        }
    }
}

/// When the checker runs.
public enum CheckMode: String, Equatable, Sendable, CaseIterable {
    /// After every step (the default).
    case step
    /// Once, after the last step.
    case end
    case off
}

/// A validated experiment config.
public struct Scenario: Equatable, Sendable {
    public var name: String
    public var semanticsName: String
    public var semantics: Semantics
    public var memoryBytes: UInt64
    public var swapBytes: UInt64
    public var thp: THPSettings
    public var check: CheckMode
    public var steps: [Step]
    /// Concurrent threads, started after `steps`, in the order written.
    public var threads: [ThreadSpec]
    /// Steps run once every thread is done.
    public var after: [Step]
    public var explore: ExploreOptions?
    public var expect: ExpectedOutcome?

    public init(name: String, semanticsName: String = "v6.18", semantics: Semantics = .v6_18, memoryBytes: UInt64,
                swapBytes: UInt64 = 0, thp: THPSettings = THPSettings(), check: CheckMode = .step, steps: [Step],
                threads: [ThreadSpec] = [], after: [Step] = [], explore: ExploreOptions? = nil,
                expect: ExpectedOutcome? = nil) {
        self.name = name; self.semanticsName = semanticsName; self.semantics = semantics
        self.memoryBytes = memoryBytes; self.swapBytes = swapBytes; self.thp = thp; self.check = check; self.steps = steps
        self.threads = threads; self.after = after; self.explore = explore; self.expect = expect
    }
}

/// One concurrent thread of a config's `threads` section: a name (used in schedules and
/// traces) and the steps it runs in order.
public struct ThreadSpec: Equatable, Sendable {
    public var name: String
    public var steps: [Step]
    public init(name: String, steps: [Step]) { self.name = name; self.steps = steps }
}

/// What a config expects of exploration: no violation or the named one, and (a litmus test,
/// herd7's `exists`/`forall`) exactly these outcomes.
public struct ExpectedOutcome: Equatable, Sendable {
    /// "none" or an invariant name; nil when only outcomes are expected.
    public var violation: String?
    /// Every outcome the schedules may end with, and must each end with at least once.
    public var outcomes: [[Observation]]?
    public init(violation: String? = "none", outcomes: [[Observation]]? = nil) {
        self.violation = violation; self.outcomes = outcomes
    }
    public static let none = ExpectedOutcome()
    public static func violation(_ name: String) -> ExpectedOutcome { ExpectedOutcome(violation: name) }
}

