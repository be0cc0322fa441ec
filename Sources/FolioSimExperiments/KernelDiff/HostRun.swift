import FolioSimModel
import FolioSimExplore

#if canImport(Glibc)
import Foundation
import Glibc

/// What one step did on the host (or in FolioSim, `SimRun`): the faults and copied pages
/// of the process that ran it, that process's anonymous RSS afterwards (pages), the
/// system-wide mTHP counter deltas by order, and the error if the step failed.
package struct StepMeasure: Equatable, Sendable {
    package var faults: Int?
    package var copied: Int?
    /// Pages an mremap step moved: present before at the old address, at the same offset
    /// of the new one after, same page frame.
    package var moved: Int?
    package var rss: Int?
    package var mthp: [Int: MTHPCounters] = [:]
    package var error: String?
    /// What a pipe read returned: the first word of each page.
    package var data: [UInt32]?
}

/// One run of a `HostPlan` on the host kernel: a helper process per config process
/// (`HostHelper`), every step sent to the process that runs it, the system-wide mTHP
/// counters read around it. Faults are net of the helper's own cost, measured on an
/// empty step (`HostCommand.empty`) right after each helper starts.
final class HostRun {
    struct Channel {
        var command: Int32
        var reply: Int32
        /// The helper-side ends, until the helper holds them.
        var helperCommand: Int32
        var helperReply: Int32
        var pid: pid_t = 0
        var overhead = 0
        var alive = false
        var buffer: [UInt8] = []
    }

    let plan: HostPlan
    let helper: String
    let cpu: Int
    private var channels: [String: Channel] = [:]
    private var spawned: [pid_t] = []

    init(plan: HostPlan, helper: String, cpu: Int) {
        self.plan = plan
        self.helper = helper
        self.cpu = cpu
    }

    /// Runs every step; the measures in plan order (nil for skipped steps).
    func run() throws(KernelDiffError) -> [StepMeasure?] {
        defer { stopAll() }
        try openPipes()
        var out: [StepMeasure?] = []
        for step in plan.steps {
            guard let cmd = step.command else { out.append(nil); continue }
            if channels[step.process]?.alive != true {
                if plan.parent[step.process] != nil {
                    out.append(StepMeasure(error: "process \(step.process) does not exist"))
                    continue
                }
                try spawn(step.process)
            }
            // The helper reads the counters around its system calls; an exit ends after the
            // reply, so its counters are read here, around the whole of it.
            let before = Self.mthpCounters()
            var m = try send(step.process, cmd)
            if case .fork(let child) = cmd, m.error == nil { try ready(child) }
            if case .exit = cmd {
                try waitForExit(step.process)
                let after = Self.mthpCounters()
                for (o, c) in after { m.mthp[o] = c - (before[o] ?? MTHPCounters()) }
            }
            out.append(m)
        }
        return out
    }

    // MARK: helpers

    private func openPipes() throws(KernelDiffError) {
        for p in plan.processes {
            var c = [Int32](repeating: 0, count: 2), r = [Int32](repeating: 0, count: 2)
            guard pipe(&c) == 0, pipe(&r) == 0 else {
                throw KernelDiffError(message: "pipe: " + String(cString: strerror(errno)))
            }
            for fd in c + r { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            channels[p] = Channel(command: c[1], reply: r[0], helperCommand: c[0], helperReply: r[1])
        }
    }

    /// `NAME:PARENT:CMD:REPLY` of `p` and its descendants, for the helper's arguments.
    private func specs(_ p: String) -> [String] {
        ([p] + plan.descendants(of: p)).map { q in
            let c = channels[q]!
            return "\(q):\(plan.parent[q] ?? "-"):\(c.helperCommand):\(c.helperReply)"
        }
    }

    private func spawn(_ p: String) throws(KernelDiffError) {
        let tree = [p] + plan.descendants(of: p)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for q in tree {
            let c = channels[q]!
            // dup2 onto itself clears FD_CLOEXEC: only this tree's ends reach the helper.
            posix_spawn_file_actions_adddup2(&actions, c.helperCommand, c.helperCommand)
            posix_spawn_file_actions_adddup2(&actions, c.helperReply, c.helperReply)
        }
        let args = [helper, "__kernel-diff-helper", p, "\(cpu)"] + specs(p)
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        // LD_BIND_NOW: no lazy symbol binding (a GOT write) inside a measured step.
        var env: [UnsafeMutablePointer<CChar>?] = [strdup("LD_BIND_NOW=1")]
        var e = environ
        while let v = e.pointee { env.append(strdup(v)); e += 1 }
        env.append(nil)
        defer { for v in env { free(v) } }
        let rc = posix_spawn(&pid, helper, &actions, nil, &argv, &env)
        guard rc == 0 else { throw KernelDiffError(message: "cannot start the helper \(helper): " + String(cString: strerror(rc))) }
        spawned.append(pid)
        HostSignals.addHelper(pid)
        for q in tree {
            close(channels[q]!.helperCommand)
            close(channels[q]!.helperReply)
        }
        try ready(p)
    }

    /// Waits for `p`'s helper to say it is ready, then measures its overhead.
    private func ready(_ p: String) throws(KernelDiffError) {
        let line = try readLine(p)
        guard line.hasPrefix("ready pid="), let pid = pid_t(line.dropFirst(10)) else {
            throw KernelDiffError(message: "the helper of \(p) did not start: \(line)")
        }
        channels[p]!.pid = pid
        channels[p]!.alive = true
        HostSignals.addHelper(pid)
        let m = try send(p, .empty)
        channels[p]!.overhead = m.faults ?? 0
    }

    private func send(_ p: String, _ cmd: HostCommand) throws(KernelDiffError) -> StepMeasure {
        let c = channels[p]!
        let bytes = Array((cmd.line + "\n").utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(c.command, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw KernelDiffError(message: "the helper of \(p) is gone") }
        return Self.parse(try readLine(p), overhead: c.overhead)
    }

    /// `ok faults=N rss=N mthp=… [copied=N] [moved=N] [data=…]` or `err TEXT`.
    static func parse(_ line: String, overhead: Int) -> StepMeasure {
        if line.hasPrefix("err ") { return StepMeasure(error: String(line.dropFirst(4))) }
        var m = StepMeasure()
        for field in line.split(separator: " ").dropFirst() {
            let kv = field.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let v = Int(kv[1])
            switch kv[0] {
            case "faults": m.faults = v.map { $0 - overhead }
            case "copied": m.copied = v
            case "moved": m.moved = v
            case "rss": m.rss = v
            case "data": m.data = kv[1].split(separator: ",").compactMap { UInt32($0) }
            case "mthp":
                for part in kv[1].split(separator: ";") {
                    let ov = part.split(separator: ":")
                    guard ov.count == 2, let o = Int(ov[0]) else { continue }
                    let vs = ov[1].split(separator: ",").compactMap { Int($0) }
                    guard vs.count == MTHPCounters.names.count else { continue }
                    m.mthp[o] = MTHPCounters(values: vs)
                }
            default: break
            }
        }
        return m
    }

    private func readLine(_ p: String) throws(KernelDiffError) -> String {
        while true {
            if let nl = channels[p]!.buffer.firstIndex(of: 10) {
                let line = String(decoding: channels[p]!.buffer[..<nl], as: UTF8.self)
                channels[p]!.buffer.removeSubrange(...nl)
                return line
            }
            var buf = [UInt8](repeating: 0, count: 4096)
            let fd = channels[p]!.reply
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
            guard n > 0 else { throw KernelDiffError(message: "the helper of \(p) stopped answering") }
            channels[p]!.buffer += buf[..<n]
        }
    }

    /// After `exit`: its reply pipe ends when the process has closed its files, which the
    /// kernel does after tearing down its memory (`do_exit`: exit_mm before exit_files).
    private func waitForExit(_ p: String) throws(KernelDiffError) {
        var buf = [UInt8](repeating: 0, count: 256)
        let fd = channels[p]!.reply
        while buf.withUnsafeMutableBytes({ Glibc.read(fd, $0.baseAddress, 256) }) > 0 {}
        if let pid = channels[p]?.pid, spawned.contains(pid) {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            spawned.removeAll { $0 == pid }
        }
        channels[p]!.alive = false
    }

    private func stopAll() {
        for (_, c) in channels where c.alive { kill(c.pid, SIGKILL) }
        for pid in spawned {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        spawned = []
        for (_, c) in channels {
            close(c.command)
            close(c.reply)
        }
        channels = [:]
        HostSignals.pidCount = 0
    }

    // MARK: system-wide figures

    /// Every anon order's mTHP event counters now.
    static func mthpCounters() -> [Int: MTHPCounters] {
        var out: [Int: MTHPCounters] = [:]
        for o in THPSettings.anonOrders {
            guard let d = HostSysfs.sizeDir(o) else { continue }
            out[o] = MTHPCounters(values: MTHPCounters.names.map { HostSysfs.readInt(d + "/stats/" + $0) ?? 0 })
        }
        return out
    }

    /// Pages khugepaged has collapsed since boot.
    static func collapsed() -> Int { HostSysfs.readInt(HostSysfs.root + "/khugepaged/pages_collapsed") ?? 0 }

    /// Waits `seconds` (for other processes to stop moving the mTHP counters).
    static func pause(seconds: Int) { sleep(UInt32(seconds)) }

    /// Whether another process moved the mTHP counters during a quiet 50 ms.
    static func othersActive() -> Bool {
        let a = mthpCounters()
        usleep(50_000)
        return mthpCounters() != a
    }

    /// The CPU the helpers are pinned to: the last one this process may run on.
    static func helperCPU() -> Int {
        var set = [UInt8](repeating: 0, count: 128)
        guard HostSyscalls.getAffinity(&set) == 0 else { return 0 }
        var last = 0
        for i in 0..<(set.count * 8) where set[i / 8] & UInt8(1 << (i % 8)) != 0 { last = i }
        return last
    }

    /// Whether the host has an active swap device (`/proc/swaps` lists one).
    static func hasSwap() -> Bool {
        (HostSysfs.read("/proc/swaps") ?? "").split(separator: "\n").count > 1
    }

    /// `6.18` from `uname -r`, as FolioSim's release numbers write it (618).
    static func release() -> (text: String, number: Int?) {
        var u = utsname()
        uname(&u)
        let r = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = r.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return (r, parts.count == 2 ? parts[0] * 100 + parts[1] : nil)
    }
}

#endif
