import FolioSimModel
import FolioSimExplore

import Foundation

/// A real program's memory behaviour, read from the text of `perf script` (the recording
/// recipe is in the README): its mappings, the faults it took, fork, exec and exit.
///
/// Read from the trace: PERF_RECORD_MMAP2 lines (every mapping, also those execve creates
/// and those mmap, brk and mprotect change), PERF_RECORD_COMM exec (a new address space),
/// munmap, mprotect, madvise and mremap entries (mremap with its exit), brk exits (a heap
/// that shrinks), fork, exec and exit
/// of processes, and user and kernel page faults at user addresses (error code bit 0x2: a
/// write). Left out: the data values (every replayed store writes 1), timing, threads as
/// separate schedulable entities (a thread's faults go to its process), and file mappings,
/// whose faults are counted, not replayed.
package struct PerfTrace: Equatable, Sendable {
    package enum Event: Equatable, Sendable {
        /// A mapping appears (replacing what was there): anonymous or not, with its protection.
        case map(pid: Int32, addr: UInt64, size: UInt64, anon: Bool, prot: Prot)
        case unmap(pid: Int32, addr: UInt64, size: UInt64)
        case protect(pid: Int32, addr: UInt64, size: UInt64, prot: Prot)
        case advise(pid: Int32, addr: UInt64, size: UInt64, advice: Advice)
        case move(pid: Int32, from: UInt64, oldSize: UInt64, to: UInt64, newSize: UInt64)
        /// A brk that returned `to` (the new program break; a lower one than before shrinks
        /// the heap, which no MMAP2 line shows).
        case brk(pid: Int32, to: UInt64)
        case fork(parent: Int32, child: Int32)
        case exec(pid: Int32)
        case exit(pid: Int32)
        case fault(pid: Int32, addr: UInt64, write: Bool)
    }

    package var events: [Event] = []
    /// Lines read, and lines of other events left out.
    package var lines = 0
    package var skipped = 0

    /// An mremap entered and not yet exited: its address and page-aligned old and new sizes.
    typealias PendingMremap = (addr: UInt64, old: UInt64, new: UInt64)

    /// Parses `perf script --show-mmap-events --show-task-events -F comm,pid,tid,time,event,trace`.
    /// Plain ASCII text (what perf writes) is read by bytes (PerfTraceBytes.swift), any
    /// other as characters; both read alike.
    package static func parse(_ text: String) throws(TraceError) -> PerfTrace {
        if let t = try parseASCII(text) { return t }
        return try parseCharacters(text)
    }

    /// `parse` of any text, a `Character` at a time.
    static func parseCharacters(_ text: String) throws(TraceError) -> PerfTrace {
        var t = PerfTrace()
        var pendingMremap: [Int32: PendingMremap] = [:]
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            t.lines += 1
            guard let pid = Self.pid(line) else { t.skipped += 1; continue }
            if try t.readMapping(line, pid: pid, lineNo: lineNo) { continue }
            if try t.readFault(line, pid: pid, lineNo: lineNo) { continue }
            if try t.readSyscall(line, pid: pid, lineNo: lineNo, pendingMremap: &pendingMremap) { continue }
            if try t.readTaskEvent(line, pid: pid, lineNo: lineNo) { continue }
            t.skipped += 1
        }
        t.dropOutsideUserSpace()
        return t
    }

    /// A PERF_RECORD_MMAP2 or PERF_RECORD_COMM exec line; false for any other.
    mutating func readMapping(_ line: String, pid: Int32, lineNo: Int) throws(TraceError) -> Bool {
        if line.contains("PERF_RECORD_MMAP2") || line.contains("PERF_RECORD_MMAP ") {
            guard pid > 0 else { skipped += 1; return true }
            guard let (addr, size, prot, path) = Self.mmap2(line) else { throw TraceError(line: lineNo, message: "unreadable PERF_RECORD_MMAP2 line") }
            let anon = path == "//anon" || path == "[stack]" || path == "[heap]" || path.hasPrefix("[anon")
            guard let size = Self.pageAlign(size) else {
                throw TraceError(line: lineNo, message: "PERF_RECORD_MMAP2 length 0x\(String(size, radix: 16)) is beyond the 47-bit user address space")
            }
            events.append(.map(pid: pid, addr: addr, size: size, anon: anon, prot: prot))
        } else if line.contains("PERF_RECORD_COMM exec") {
            events.append(.exec(pid: pid))
        } else {
            return false
        }
        return true
    }

    /// A user or kernel page fault line (one at a kernel address is left out); false for any other.
    mutating func readFault(_ line: String, pid: Int32, lineNo: Int) throws(TraceError) -> Bool {
        guard line.contains("exceptions:page_fault_user:") || line.contains("exceptions:page_fault_kernel:") else { return false }
        guard let addr = Self.hexField(line, "address="), let code = Self.hexField(line, "error_code=") else {
            throw TraceError(line: lineNo, message: "a page fault without address= and error_code=")
        }
        guard addr < Geometry.taskSize else { skipped += 1; return true }
        events.append(.fault(pid: pid, addr: addr & ~(Geometry.pageSize - 1), write: code & 0x2 != 0))
        return true
    }

    /// A munmap, mprotect, madvise or mremap entry, or an mremap exit (which completes the
    /// entry as a move, unless it failed); false for any other line.
    mutating func readSyscall(_ line: String, pid: Int32, lineNo: Int,
                                      pendingMremap: inout [Int32: PendingMremap]) throws(TraceError) -> Bool {
        if line.contains("syscalls:sys_enter_munmap:") {
            guard let a = Self.hexField(line, "addr: "), let l = Self.hexField(line, "len: ") else { throw TraceError(line: lineNo, message: "munmap without addr and len") }
            guard let l = Self.pageAlign(l) else { skipped += 1; return true }
            events.append(.unmap(pid: pid, addr: a, size: l))
        } else if line.contains("syscalls:sys_enter_mprotect:") {
            guard let a = Self.hexField(line, "start: "), let l = Self.hexField(line, "len: "), let p = Self.hexField(line, "prot: ") else {
                throw TraceError(line: lineNo, message: "mprotect without start, len and prot")
            }
            guard let l = Self.pageAlign(l) else { skipped += 1; return true }
            events.append(.protect(pid: pid, addr: a, size: l, prot: Self.protBits(p)))
        } else if line.contains("syscalls:sys_enter_madvise:") {
            guard let a = Self.hexField(line, "start: "), let l = Self.hexField(line, "len_in: "), let b = Self.hexField(line, "behavior: ") else {
                throw TraceError(line: lineNo, message: "madvise without start, len_in and behavior")
            }
            if let advice = Self.advice(b), let l = Self.pageAlign(l) { events.append(.advise(pid: pid, addr: a, size: l, advice: advice)) } else { skipped += 1 }
        } else if line.contains("syscalls:sys_enter_mremap:") {
            guard let a = Self.hexField(line, "addr: "), let o = Self.hexField(line, "old_len: "), let n = Self.hexField(line, "new_len: ") else {
                throw TraceError(line: lineNo, message: "mremap without addr, old_len and new_len")
            }
            guard let o = Self.pageAlign(o), let n = Self.pageAlign(n) else { skipped += 1; return true }
            pendingMremap[pid] = (a, o, n)
        } else if line.contains("syscalls:sys_exit_brk:") {
            guard let ret = Self.lastHex(line), ret < Geometry.taskSize else { skipped += 1; return true }
            events.append(.brk(pid: pid, to: ret))
        } else if line.contains("syscalls:sys_exit_mremap:") {
            guard let m = pendingMremap.removeValue(forKey: pid) else { skipped += 1; return true }
            guard let ret = Self.lastHex(line), ret < Geometry.taskSize else { return true }  // failed
            events.append(.move(pid: pid, from: m.addr, oldSize: m.old, to: ret, newSize: m.new))
        } else {
            return false
        }
        return true
    }

    /// The madvise advice of a `behavior` value, for the advices FolioSim models.
    private static func advice(_ behavior: UInt64) -> Advice? {
        switch behavior {
        case 4: .dontneed
        case 10: .dontfork
        case 11: .dofork
        case 14: .hugepage
        case 15: .nohugepage
        case 18: .wipeonfork
        case 19: .keeponfork
        case 21: .pageout
        default: nil
        }
    }

    /// A sched_process_fork or sched_process_exit line; false for any other.
    mutating func readTaskEvent(_ line: String, pid: Int32, lineNo: Int) throws(TraceError) -> Bool {
        if line.contains("sched:sched_process_fork:") {
            guard let child = Self.intField(line, "child_pid=") else { throw TraceError(line: lineNo, message: "fork without child_pid=") }
            events.append(.fork(parent: Self.intField(line, " pid=") ?? pid, child: child))
        } else if line.contains("sched:sched_process_exit:") {
            events.append(.exit(pid: pid))
        } else {
            return false
        }
        return true
    }

    /// Leaves out (as skipped) the events whose ranges reach beyond user space.
    mutating func dropOutsideUserSpace() {
        var dropped = 0
        events.removeAll { e in
            let inUserSpace: Bool
            switch e {
            case .map(_, let a, let n, _, _), .unmap(_, let a, let n), .protect(_, let a, let n, _), .advise(_, let a, let n, _):
                inUserSpace = a < Geometry.taskSize && n <= Geometry.taskSize - a
            case .move(_, let from, let old, let to, let new):
                inUserSpace = from < Geometry.taskSize && old <= Geometry.taskSize - from && to < Geometry.taskSize && new <= Geometry.taskSize - to
            default:
                inUserSpace = true
            }
            if !inUserSpace { dropped += 1 }
            return !inUserSpace
        }
        skipped += dropped
    }

    /// The `PID/TID` after the command name (the first field that has that shape).
    private static func pid(_ line: String) -> Int32? {
        for f in line.split(separator: " ", omittingEmptySubsequences: true).prefix(4) {
            let parts = f.split(separator: "/")
            if parts.count == 2, let p = Int32(parts[0]), Int32(parts[1]) != nil { return p }
        }
        return nil
    }

    /// `[0xADDR(0xLEN) @ … ]: PROT PATH` of an MMAP2 line.
    private static func mmap2(_ line: String) -> (UInt64, UInt64, Prot, String)? {
        guard let open = line.firstIndex(of: "["), let paren = line[open...].firstIndex(of: "("),
              let close = line[paren...].firstIndex(of: ")"), let end = line[close...].range(of: "]: ") else { return nil }
        guard let addr = hex(String(line[line.index(after: open)..<paren])),
              let size = hex(String(line[line.index(after: paren)..<close])) else { return nil }
        let rest = line[end.upperBound...].split(separator: " ", maxSplits: 1)
        guard let perms = rest.first, perms.count >= 3 else { return nil }
        var prot: Prot = []
        if perms.hasPrefix("r") { prot.insert(.read) }
        if perms.dropFirst().hasPrefix("w") { prot.insert(.write) }
        if perms.dropFirst(2).hasPrefix("x") { prot.insert(.exec) }
        return (addr, size, prot, rest.count > 1 ? String(rest[1]) : "")
    }

    private static func protBits(_ p: UInt64) -> Prot {
        var prot: Prot = []
        if p & 1 != 0 { prot.insert(.read) }
        if p & 2 != 0 { prot.insert(.write) }
        if p & 4 != 0 { prot.insert(.exec) }
        return prot
    }

    private static func hex(_ s: String) -> UInt64? {
        let t = s.hasPrefix("0x") ? String(s.dropFirst(2)) : s
        return UInt64(t, radix: 16)
    }

    /// The hex number after `key`.
    private static func hexField(_ line: String, _ key: String) -> UInt64? {
        guard let r = line.range(of: key) else { return nil }
        let v = line[r.upperBound...].prefix { $0.isHexDigit || $0 == "x" }
        return hex(String(v))
    }

    private static func intField(_ line: String, _ key: String) -> Int32? {
        guard let r = line.range(of: key) else { return nil }
        return Int32(line[r.upperBound...].prefix { $0.isNumber })
    }

    private static func lastHex(_ line: String) -> UInt64? {
        guard let w = line.split(separator: " ").last else { return nil }
        return hex(String(w))
    }

    /// `v` rounded up to whole pages; nil for a length beyond the 47-bit user address
    /// space (no mapping is that long, and the kernel refuses such a munmap, mprotect,
    /// madvise or mremap with EINVAL or ENOMEM).
    private static func pageAlign(_ v: UInt64) -> UInt64? {
        guard v <= Geometry.taskSize else { return nil }
        return (v + Geometry.pageSize - 1) & ~(Geometry.pageSize - 1)
    }
}

package struct TraceError: Error, Equatable {
    package let line: Int
    package let message: String
}
