import FolioSimModel
import FolioSimExplore

/// What `foliosim kernel-diff` asks a host helper process to do for one config step: the
/// system calls of the op, written as one text line (`HostCommand.line`) that the helper
/// parses back (`HostCommand(line:)`).
package enum HostCommand: Equatable, Sendable {
    case mmap(addr: UInt64, size: UInt64, prot: Prot)
    case munmap(addr: UInt64, size: UInt64)
    case mprotect(addr: UInt64, size: UInt64, prot: Prot)
    case madvise(addr: UInt64, size: UInt64, advice: Advice)
    case mremap(addr: UInt64, size: UInt64, to: UInt64)
    /// A store of `value` to the first word of every page.
    case write(addr: UInt64, size: UInt64, value: UInt32)
    /// A load of the first word of every page.
    case read(addr: UInt64, size: UInt64)
    /// The pages of a `touch` step, in its order (`TouchPattern` as `seq`, `random:SEED`,
    /// `stride:BYTES`).
    case touch(addr: UInt64, size: UInt64, pattern: TouchPattern, count: Int?, write: Bool, value: UInt32)
    /// vmsplice(2) of the range into the pipe `pipe` (created by the first use in a process,
    /// inherited by its forks).
    case vmsplice(addr: UInt64, size: UInt64, pipe: String)
    /// read(2) of everything in the pipe: the first word of each page.
    case readPipe(pipe: String)
    /// io_uring_setup(2), then io_uring_register(2) IORING_REGISTER_BUFFERS of the range as
    /// the fixed buffer `id` (a FOLL_LONGTERM | FOLL_WRITE pin, kept while the ring is open).
    case iouringRegister(addr: UInt64, size: UInt64, id: String)
    /// close(2) of the ring of `id`: its buffers are unpinned.
    case iouringRelease(id: String)
    /// fork(2); the child becomes the helper of process `child`.
    case fork(child: String)
    case exit
    /// `echo 4 > /proc/self/clear_refs` (the soft-dirty clear FolioSim models).
    case clearRefs
    /// No system call: measures what the helper's own loop costs (`ru_minflt` of an empty step).
    case empty

    /// The command as the helper reads it.
    package var line: String {
        func h(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        switch self {
        case .mmap(let a, let s, let p): return "mmap \(h(a)) \(h(s)) \(p.rawValue)"
        case .munmap(let a, let s): return "munmap \(h(a)) \(h(s))"
        case .mprotect(let a, let s, let p): return "mprotect \(h(a)) \(h(s)) \(p.rawValue)"
        case .madvise(let a, let s, let adv): return "madvise \(h(a)) \(h(s)) \(adv.rawValue)"
        case .mremap(let a, let s, let to): return "mremap \(h(a)) \(h(s)) \(h(to))"
        case .write(let a, let s, let v): return "write \(h(a)) \(h(s)) \(v)"
        case .read(let a, let s): return "read \(h(a)) \(h(s))"
        case .touch(let a, let s, let pattern, let count, let w, let v):
            let pat: String
            switch pattern {
            case .seq: pat = "seq"
            case .random(let seed): pat = "random:\(seed)"
            case .stride(let b): pat = "stride:\(b)"
            }
            return "touch \(h(a)) \(h(s)) \(pat) \(count.map(String.init) ?? "-") \(w ? "w" : "r") \(v)"
        case .vmsplice(let a, let s, let p): return "vmsplice \(h(a)) \(h(s)) \(p)"
        case .readPipe(let p): return "read_pipe \(p)"
        case .iouringRegister(let a, let s, let id): return "io_uring_register \(h(a)) \(h(s)) \(id)"
        case .iouringRelease(let id): return "io_uring_release \(id)"
        case .fork(let c): return "fork \(c)"
        case .exit: return "exit"
        case .clearRefs: return "clear_refs"
        case .empty: return "empty"
        }
    }

    /// Parses `line`; nil when it is not a command.
    package init?(line: String) {
        let w = line.split(separator: " ").map(String.init)
        guard let verb = w.first else { return nil }
        func n(_ i: Int) -> UInt64? {
            guard i < w.count else { return nil }
            let s = w[i]
            return s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
        }
        switch (verb, w.count) {
        case ("mmap", 4): guard let a = n(1), let s = n(2), let p = n(3) else { return nil }; self = .mmap(addr: a, size: s, prot: Prot(rawValue: UInt8(truncatingIfNeeded: p)))
        case ("munmap", 3): guard let a = n(1), let s = n(2) else { return nil }; self = .munmap(addr: a, size: s)
        case ("mprotect", 4): guard let a = n(1), let s = n(2), let p = n(3) else { return nil }; self = .mprotect(addr: a, size: s, prot: Prot(rawValue: UInt8(truncatingIfNeeded: p)))
        case ("madvise", 4): guard let a = n(1), let s = n(2), let adv = Advice(rawValue: w[3]) else { return nil }; self = .madvise(addr: a, size: s, advice: adv)
        case ("mremap", 4): guard let a = n(1), let s = n(2), let to = n(3) else { return nil }; self = .mremap(addr: a, size: s, to: to)
        case ("write", 4): guard let a = n(1), let s = n(2), let v = n(3) else { return nil }; self = .write(addr: a, size: s, value: UInt32(truncatingIfNeeded: v))
        case ("read", 3): guard let a = n(1), let s = n(2) else { return nil }; self = .read(addr: a, size: s)
        case ("touch", 7):
            guard let a = n(1), let s = n(2), let v = n(6) else { return nil }
            let pattern: TouchPattern
            let p = w[3].split(separator: ":").map(String.init)
            switch (p[0], p.count) {
            case ("seq", 1): pattern = .seq
            case ("random", 2): guard let seed = UInt64(p[1]) else { return nil }; pattern = .random(seed: seed)
            case ("stride", 2): guard let b = UInt64(p[1]) else { return nil }; pattern = .stride(b)
            default: return nil
            }
            self = .touch(addr: a, size: s, pattern: pattern, count: w[4] == "-" ? nil : Int(w[4]), write: w[5] == "w", value: UInt32(truncatingIfNeeded: v))
        case ("vmsplice", 4): guard let a = n(1), let s = n(2) else { return nil }; self = .vmsplice(addr: a, size: s, pipe: w[3])
        case ("read_pipe", 2): self = .readPipe(pipe: w[1])
        case ("io_uring_register", 4): guard let a = n(1), let s = n(2) else { return nil }; self = .iouringRegister(addr: a, size: s, id: w[3])
        case ("io_uring_release", 2): self = .iouringRelease(id: w[1])
        case ("fork", 2): self = .fork(child: w[1])
        case ("exit", 1): self = .exit
        case ("clear_refs", 1): self = .clearRefs
        case ("empty", 1): self = .empty
        default: return nil
        }
    }
}

/// One step of a config as the host runs it: the command, or why it is skipped.
package struct HostStep: Equatable, Sendable {
    /// Index in the config's `steps` (0-based), and the repetition of a `repeat` step.
    package var index: Int
    package var repetition: Int
    package var process: String
    /// `Op.summary`: what the table prints.
    package var summary: String
    package var command: HostCommand?
    /// Why the host does not run it (nil when it does).
    package var skipped: String?
}

/// The config's `steps` as host system calls (`foliosim kernel-diff`), with the processes
/// they run in: a process first named by a step is a new helper; a `fork` child is the
/// forking helper's child. `threads` and `after` are the explorer's and are not run.
package struct HostPlan: Sendable {
    package var steps: [HostStep] = []
    /// Every process, in the order it comes into being.
    package var processes: [String] = []
    /// The process each `fork` child was forked from (absent for new processes).
    package var parent: [String: String] = [:]

    /// The plan of `scenario`; `hostHasSwap` tells whether MADV_PAGEOUT can swap anything out.
    package init(_ scenario: Scenario, hostHasSwap: Bool) {
        var alive = Set<String>()
        // The process whose io_uring holds each fixed buffer, for its `unpin`.
        var rings: [String: String] = [:]
        for (i, step) in scenario.steps.enumerated() {
            for r in 0..<step.repeatCount {
                let op = step.op(r)
                var s = HostStep(index: i, repetition: r, process: op.process ?? "-", summary: op.summary)
                switch op.body.hostCommand(hostHasSwap: hostHasSwap) {
                case .success(let c): s.command = c
                case .failure(let why): s.skipped = why.text
                }
                if case .iouringRegister(_, _, let id)? = s.command { rings[id] = s.process }
                if let id = op.as(UnpinOp.self)?.id, let p = rings[id] {
                    s.process = p
                    s.command = .iouringRelease(id: id)
                    s.skipped = nil
                    rings[id] = nil
                }
                if s.command != nil, let p = op.process, !alive.contains(p) {
                    alive.insert(p)
                    processes.append(p)
                }
                if case .fork(let child)? = s.command, !alive.contains(child) {
                    alive.insert(child)
                    processes.append(child)
                    parent[child] = s.process
                }
                steps.append(s)
            }
        }
    }

    /// The processes forked, directly or not, from `p`.
    package func descendants(of p: String) -> [String] {
        var out: [String] = []
        for q in processes where parent[q] != nil {
            var x = q
            while let up = parent[x] {
                if up == p { out.append(q); break }
                x = up
            }
        }
        return out
    }

    /// Why the host cannot run an op (`OpBody.hostCommand`).
    struct Skip: Error { var text: String }
}
