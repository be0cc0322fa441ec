import Foundation

/// A `perf script` text of a given size, shaped like a recorded one (the README's recipe): a
/// worker process execs, maps its binary, loader, stack and heap, then in rounds maps an
/// anonymous buffer (mmap entry, MMAP2, exit), writes and rereads its pages, write-protects
/// or drops part of it, forks a child that writes a few pages and exits, and unmaps it; the
/// next worker starts when one exits. For `foliosim bench`'s trace-replay figure: every kind
/// of line the reader knows, in the proportions of a real trace (mostly faults).
package enum SyntheticTrace {
    /// At least `bytes` bytes of trace text; the same text for the same size.
    package static func text(bytes: Int) -> String {
        var out = ""
        write(bytes: bytes) { out += $0 }
        return out
    }

    /// `text(bytes:)` handed to `sink` a process at a time, for writing it out without
    /// holding it.
    package static func write(bytes: Int, _ sink: (String) -> Void) {
        var written = 0
        var out = "         swapper     0/0         0.000000: PERF_RECORD_MMAP -1/0: [0xffffffff81000000(0x1276988) @ 0xffffffff81000000]: x [kernel.kallsyms]_text\n"
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D
        var clock = 1000.0
        var pid: Int32 = 2000
        func next(_ n: UInt64) -> UInt64 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (rng >> 33) % n
        }
        func line(_ p: Int32, _ comm: String, _ event: String) {
            clock += 0.000004
            let c = String(repeating: " ", count: max(0, 16 - comm.count)) + comm
            out += "\(c)  \(p)/\(p)  \(String(format: "%.6f", clock)): \(event)\n"
        }
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        func hex8(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
        }
        func fault(_ p: Int32, _ comm: String, _ addr: UInt64, write: Bool, user: Bool = true) {
            let ip = user ? hex(0x5555_5555_7000 + next(0x12000)) : "copy_user"
            line(p, comm, "  exceptions:page_fault_\(user ? "user" : "kernel"): address=\(hex(addr)) ip=\(ip) error_code=\(hex(write ? 0x6 : 0x4))")
        }
        func map(_ p: Int32, _ comm: String, _ addr: UInt64, _ size: UInt64, _ perms: String, _ path: String, off: UInt64 = 0) {
            let dev = path.hasPrefix("/") ? "fe:00 254655" : "00:00 0"
            line(p, comm, "PERF_RECORD_MMAP2 \(p)/\(p): [\(hex(addr))(\(hex(size))) @ \(path.hasPrefix("/") ? hex(off) : hex(addr)) \(dev) 0]: \(perms) \(path)")
        }
        while written + out.utf8.count < bytes {
            let comm = "worker"
            line(pid, comm, "PERF_RECORD_COMM exec: \(comm):\(pid)/\(pid)")
            map(pid, comm, 0x7fff_fffd_e000, 0x21000, "rw-p", "[stack]")
            map(pid, comm, 0x5555_5555_4000, 0x3000, "r--p", "/usr/bin/worker")
            map(pid, comm, 0x5555_5555_7000, 0x12000, "r-xp", "/usr/bin/worker", off: 0x3000)
            map(pid, comm, 0x5555_5556_f000, 0x2000, "rw-p", "/usr/bin/worker", off: 0x1b000)
            fault(pid, comm, 0x5555_5557_0548, write: true, user: false)
            map(pid, comm, 0x7fff_f7fc_a000, 0x35000, "r-xp", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
            for k in 0..<4 as Range<UInt64> { fault(pid, comm, 0x7fff_f7fc_a000 + k * 0x9000, write: false) }
            for k in 0..<8 as Range<UInt64> { fault(pid, comm, 0x7fff_ffff_e000 - k * 0x1000, write: true) }
            line(pid, comm, "      syscalls:sys_enter_brk: brk: 0x00000000")
            line(pid, comm, "       syscalls:sys_exit_brk: 0x555555571000")
            map(pid, comm, 0x5555_5557_1000, 0x21000, "rw-p", "[heap]")
            for k in 0..<0x21 as Range<UInt64> { fault(pid, comm, 0x5555_5557_1000 + k * 0x1000 + next(0x1000), write: true) }
            for round in 0..<24 {
                let pages: UInt64 = 16 << next(7)
                let size = pages * 0x1000
                let addr = 0x7fff_e000_0000 - UInt64(round) * 0x0100_0000 - size
                line(pid, comm, "     syscalls:sys_enter_mmap: addr: 0x00000000, len: \(hex8(size)), prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000")
                map(pid, comm, addr, size, "rw-p", "//anon")
                line(pid, comm, "      syscalls:sys_exit_mmap: \(hex(addr))")
                for k in 0..<pages { fault(pid, comm, addr + k * 0x1000 + next(0x1000), write: true) }
                for _ in 0..<pages / 4 { fault(pid, comm, addr + next(pages) * 0x1000, write: next(2) == 0) }
                for _ in 0..<pages / 8 { fault(pid, comm, 0x5555_5555_7000 + next(0x12) * 0x1000, write: false) }
                switch round % 4 {
                case 1:
                    line(pid, comm, " syscalls:sys_enter_mprotect: start: \(hex(addr)), len: \(hex8(size / 2)), prot: 0x00000001")
                    for k in 0..<4 as Range<UInt64> { fault(pid, comm, addr + k * 0x1000, write: false) }
                case 2:
                    line(pid, comm, "  syscalls:sys_enter_madvise: start: \(hex(addr)), len_in: \(hex8(size / 2)), behavior: 0x00000004")
                    for k in 0..<8 as Range<UInt64> { fault(pid, comm, addr + k * 0x1000, write: true) }
                case 3:
                    let child = pid + 1000
                    line(pid, comm, "  sched:sched_process_fork: comm=\(comm) pid=\(pid) child_comm=\(comm) child_pid=\(child)")
                    for k in 0..<8 as Range<UInt64> { fault(child, comm, addr + next(pages) * 0x1000 + k, write: true) }
                    line(child, comm, "  sched:sched_process_exit: comm=\(comm) pid=\(child) prio=120")
                default: break
                }
                if round % 3 != 2 {
                    line(pid, comm, "   syscalls:sys_enter_munmap: addr: \(hex(addr)), len: \(hex8(size))")
                }
            }
            line(pid, comm, "  sched:sched_process_exit: comm=\(comm) pid=\(pid) prio=120")
            line(pid, comm, "PERF_RECORD_EXIT(\(pid):\(pid)):(1:1)")
            pid += 1
            written += out.utf8.count
            sink(out)
            out = ""
        }
        if !out.isEmpty { sink(out) }
    }
}
