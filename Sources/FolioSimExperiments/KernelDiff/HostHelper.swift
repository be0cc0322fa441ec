import FolioSimModel
import FolioSimExplore

#if canImport(Glibc)
import Glibc

/// `foliosim __kernel-diff-helper`: one real process of a config on the host kernel. It reads
/// commands (`HostCommand.line`) from its command pipe, runs their system calls and stores,
/// and answers on its reply pipe with what the step cost this process:
/// `ok faults=N rss=N mthp=…`, with `copied=N` for a write, `moved=N` for an mremap and
/// `data=…` for a pipe read, or `err MESSAGE`. Single-threaded and synchronous, so that `fork` copies all of it.
///
/// Measurements: faults are `ru_minflt + ru_majflt` around the system call (FolioSim's
/// `faultsTotal` counts like that); `copied` is the pages of the written range whose PFN
/// (`/proc/self/pagemap`) changed from a page that was not the zero page
/// (`/proc/kpageflags` KPF_ZERO_PAGE), what FolioSim counts as COW copies; `rss` is the
/// present pages of the config's mappings that are not the zero page (MM_ANONPAGES: the
/// helper's own memory is left out).
public enum HostHelper {
    /// The pipes of one process: commands in, replies out.
    struct Pipes {
        var name: String
        /// The process it is forked from ("-" for a process of its own).
        var parent: String
        var command: Int32
        var reply: Int32
    }

    /// `args`: process name, CPU, then `NAME:PARENT:CMDFD:REPLYFD` for the process and every
    /// process it will fork (directly or not).
    public static func main(_ args: [String]) -> Never {
        guard args.count >= 3, let cpu = Int(args[1]) else { _exit(2) }
        var all: [Pipes] = []
        for spec in args[2...] {
            let f = spec.split(separator: ":")
            guard f.count == 4, let c = Int32(f[2]), let r = Int32(f[3]) else { _exit(2) }
            all.append(Pipes(name: String(f[0]), parent: String(f[1]), command: c, reply: r))
        }
        guard let me = all.first(where: { $0.name == args[0] }) else { _exit(2) }
        pinToCPU(cpu)
        signal(SIGCHLD, SIG_IGN)
        keepOwnMemorySmall()
        var h = Helper(me: me, all: all)
        h.serve()
    }

    /// The helper's own memory must not move the counters it measures: its anonymous
    /// mappings (heap, stack) get MADV_NOHUGEPAGE, and malloc is kept on the heap
    /// (M_MMAP_THRESHOLD) so that no new mapping of its own appears later.
    static func keepOwnMemorySmall() {
        HostSyscalls.mallopt(-3, 1 << 30)
        forEachWritableMapping { a, b, anonymous in
            if anonymous { _ = madvise(UnsafeMutableRawPointer(bitPattern: UInt(a)), Int(b - a), 15) }
        }
    }

    /// Each writable mapping of this process (`/proc/self/maps`): start, end, and whether it
    /// is anonymous (no file, or `[heap]`, `[stack]`).
    static func forEachWritableMapping(_ body: (UInt64, UInt64, Bool) -> Void) {
        guard let maps = HostSysfs.read("/proc/self/maps") else { return }
        for line in maps.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 5, f[1].hasPrefix("rw") else { continue }
            let r = f[0].split(separator: "-")
            guard r.count == 2, let a = UInt64(r[0], radix: 16), let b = UInt64(r[1], radix: 16) else { continue }
            body(a, b, f.count == 5 || f[5].hasPrefix("["))
        }
    }

    static func pinToCPU(_ cpu: Int) {
        var set = [UInt8](repeating: 0, count: 128)
        set[cpu / 8] |= UInt8(1 << (cpu % 8))
        _ = HostSyscalls.setAffinity(&set)
    }
}

/// The state of one helper process.
private struct Helper {
    var me: HostHelper.Pipes
    /// Pipes of the processes this one will fork, directly or not.
    var others: [HostHelper.Pipes]
    var pagemap: Int32 = -1
    let kpageflags: Int32
    /// The config's mappings in this process: [start, end) ranges.
    var ranges: [(UInt64, UInt64)] = []
    var zeroCache: [UInt64: Bool] = [:]
    /// io_uring instances by fixed-buffer id (set up before the step that registers).
    var rings: [String: Int32] = [:]
    /// Pipes by name: read end (non-blocking) and write end.
    var pipes: [String: (read: Int32, write: Int32)] = [:]
    /// Where a pipe read lands (filled before a window, so the read takes no fault of ours).
    var pipeBuffer = [UInt8](repeating: 1, count: 1 << 20)
    var input: [UInt8] = []
    var sink: UInt32 = 0
    /// The mTHP counter files (`anonOrders` × `MTHPCounters.names`, -1 where none).
    let counterFiles: [Int32]
    /// Memory a measurement window writes: rusage and counters before and after, and a
    /// read buffer. MADV_WIPEONFORK, so that after a fork the parent's stays its own (no
    /// COW fault inside the fork's window), and touched before every window.
    let scratch: UnsafeMutableRawPointer
    static let scratchBytes = 16384

    init(me: HostHelper.Pipes, all: [HostHelper.Pipes]) {
        self.me = me
        others = all.filter { $0.name != me.name }
        kpageflags = open("/proc/kpageflags", O_RDONLY)
        pagemap = open("/proc/self/pagemap", O_RDONLY)
        var files: [Int32] = []
        for o in THPSettings.anonOrders {
            for n in MTHPCounters.names {
                files.append(HostSysfs.sizeDir(o).map { open($0 + "/stats/" + n, O_RDONLY) } ?? -1)
            }
        }
        counterFiles = files
        scratch = mmap(nil, Self.scratchBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        _ = madvise(scratch, Self.scratchBytes, 15)
        _ = madvise(scratch, Self.scratchBytes, 18)
        ranges.reserveCapacity(256)
        touchScratch()
    }

    /// Runs every command once on a mapping of its own, through the same calls as a step
    /// (so the stack is as deep), so that nothing the code does the first time (lazy runtime
    /// metadata, symbol lookup, stack growth) falls inside a step.
    mutating func warmUp() {
        let size: UInt64 = 0x20000
        guard let probe = mmap(nil, Int(size) * 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), probe != MAP_FAILED else { return }
        let a = UInt64(UInt(bitPattern: probe))
        munmap(probe, Int(size) * 2)
        let b = a + size
        let commands: [HostCommand] = [
            .mmap(addr: a, size: size, prot: [.read, .write]), .madvise(addr: a, size: size, advice: .nohugepage),
            .write(addr: a, size: size, value: 1), .read(addr: a, size: size),
            .touch(addr: a, size: size, pattern: .seq, count: 1, write: true, value: 2),
            .mprotect(addr: a, size: size, prot: [.read]), .mprotect(addr: a, size: size, prot: [.read, .write]),
            .vmsplice(addr: a, size: 0x1000, pipe: "-"), .readPipe(pipe: "-"),
            .iouringRegister(addr: a, size: 0x1000, id: "-"), .iouringRelease(id: "-"),
            .madvise(addr: a, size: size, advice: .dontneed), .mremap(addr: a, size: size, to: b), .munmap(addr: b, size: size),
        ]
        for c in commands { run(c, answer: false) }
        if let p = pipes.removeValue(forKey: "-") {
            close(p.read)
            close(p.write)
        }
    }

    /// fork(2) between two samples (the parent's second sample only).
    func forkWindow() -> pid_t {
        touchScratch()
        sample(0)
        let pid = Glibc.fork()
        if pid > 0 { sample(1) }
        return pid
    }

    func touchScratch() { memset(scratch, 0, Self.scratchBytes) }

    /// Slots of the scratch page: 0 faults before, 1 faults after, 2 bytes a pipe read got,
    /// 16... counters before, 16 + 64... counters after; rusage at byte 1024, the counter
    /// read buffer at 2048.
    var slots: UnsafeMutablePointer<Int> { scratch.assumingMemoryBound(to: Int.self) }

    /// Faults and counters into `slot` (0 before, 1 after): the faults last before a
    /// window and first after it, so that nothing but the window's system calls lies between.
    func sample(_ slot: Int) {
        if slot == 1 { sampleFaults(1) }
        let buf = (scratch + 2048).assumingMemoryBound(to: UInt8.self)
        for (i, fd) in counterFiles.enumerated() {
            var v = 0
            if fd >= 0 {
                let n = pread(fd, buf, 32, 0)
                var k = 0
                while k < n, buf[k] >= 48, buf[k] <= 57 { v = v * 10 + Int(buf[k] - 48); k += 1 }
            }
            slots[16 + slot * 64 + i] = v
        }
        if slot == 0 { sampleFaults(0) }
    }

    func sampleFaults(_ slot: Int) {
        let u = (scratch + 1024).assumingMemoryBound(to: rusage.self)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), u)
        slots[slot] = u.pointee.ru_minflt + u.pointee.ru_majflt
    }

    /// `mthp=ORDER:v,v,...;...` for the orders whose counters moved between the samples.
    func counterDeltas() -> String {
        var parts: [String] = []
        let names = MTHPCounters.names.count
        for (k, o) in THPSettings.anonOrders.enumerated() {
            let d = (0..<names).map { slots[16 + 64 + k * names + $0] - slots[16 + k * names + $0] }
            if d.contains(where: { $0 != 0 }) { parts.append("\(o):" + d.map(String.init).joined(separator: ",")) }
        }
        return "mthp=" + parts.joined(separator: ";")
    }

    mutating func serve() -> Never {
        warmUp()
        reply("ready pid=\(getpid())")
        while let line = readLine() {
            guard let cmd = HostCommand(line: line) else { reply("err bad command \(line)"); continue }
            run(cmd)
        }
        _exit(0)
    }

    /// Runs `cmd` and answers with what it cost (unless `answer` is false: the warm-up).
    mutating func run(_ cmd: HostCommand, answer: Bool = true) {
        if case .fork(let child) = cmd { return fork(child) }
        if case .exit = cmd {
            reply("ok faults=0 rss=0")
            _exit(0)
        }
        var before: [UInt64] = []
        var written: (UInt64, UInt64)?
        switch cmd {
        case .write(let a, let s, _): written = (a, s)
        case .touch(let a, let s, _, _, true, _): written = (a, s)
        default: break
        }
        if let (a, s) = written { before = pfns(a, s) }
        if case .mremap(let a, let s, _) = cmd { before = pfns(a, s) }
        if case .vmsplice(_, _, let p) = cmd, pipes[p] == nil { openPipe(p) }
        if case .iouringRegister(_, _, let id) = cmd, rings[id] == nil { rings[id] = HostSyscalls.iouringSetup() }
        // A touch's addresses are generated before the window: generating them allocates.
        var addresses: [UInt64] = []
        if case .touch(let a, let s, let pattern, let count, _, _) = cmd { addresses = Array(pattern.addresses(a, s, count: count)) }
        touchScratch()
        sample(0)
        let error = perform(cmd, addresses)
        sample(1)
        if !answer { return track(cmd) }
        if let error { reply("err \(error)"); return }
        track(cmd)
        var fields = ["ok", "faults=\(slots[1] - slots[0])", "rss=\(rss())", counterDeltas()]
        if let (a, s) = written {
            let after = pfns(a, s)
            fields.append("copied=\(before.indices.filter { before[$0] != 0 && after[$0] != before[$0] && !isZeroPage(before[$0]) }.count)")
        }
        if case .mremap(_, let s, let to) = cmd {
            let after = pfns(to, s)
            fields.append("moved=\(before.indices.filter { before[$0] != 0 && after[$0] == before[$0] }.count)")
        }
        if case .readPipe = cmd {
            let words = (0..<slots[2] / Int(Geometry.pageSize)).map { page in
                pipeBuffer.withUnsafeBytes { String($0.load(fromByteOffset: page * Int(Geometry.pageSize), as: UInt32.self)) }
            }
            fields.append("data=" + words.joined(separator: ","))
        }
        reply(fields.joined(separator: " "))
    }

    mutating func openPipe(_ name: String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        pipes[name] = (fds[0], fds[1])
    }

    /// Runs the system calls of `cmd`; the error text, or nil.
    mutating func perform(_ cmd: HostCommand, _ addresses: [UInt64]) -> String? {
        switch cmd {
        case .mmap(let a, let s, let p):
            let r = mmap(UnsafeMutableRawPointer(bitPattern: UInt(a)), Int(s), Self.prot(p),
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
            if r == MAP_FAILED { return "mmap: " + errnoText() }
            if UInt64(UInt(bitPattern: r)) != a { munmap(r, Int(s)); return "mmap: the kernel placed it elsewhere" }
        case .munmap(let a, let s):
            if munmap(UnsafeMutableRawPointer(bitPattern: UInt(a)), Int(s)) != 0 { return "munmap: " + errnoText() }
        case .mprotect(let a, let s, let p):
            if mprotect(UnsafeMutableRawPointer(bitPattern: UInt(a)), Int(s), Self.prot(p)) != 0 { return "mprotect: " + errnoText() }
        case .madvise(let a, let s, let adv):
            if madvise(UnsafeMutableRawPointer(bitPattern: UInt(a)), Int(s), Self.advice(adv)) != 0 { return "madvise: " + errnoText() }
        case .mremap(let a, let s, let to):
            let r = HostSyscalls.mremap(a, s, to)
            if r != to { return "mremap: " + errnoText() }
        case .write(let a, let s, let v):
            for p in stride(from: a, to: a + s, by: Int(Geometry.pageSize)) { store(p, v) }
        case .read(let a, let s):
            for p in stride(from: a, to: a + s, by: Int(Geometry.pageSize)) { load(p) }
        case .touch(_, _, _, _, let w, let v):
            for p in addresses { if w { store(p, v) } else { load(p) } }
        case .vmsplice(let a, let s, let name):
            guard let p = pipes[name] else { return "vmsplice: no pipe \(name)" }
            if HostSyscalls.vmsplice(p.write, a, s) < 0 { return "vmsplice: " + errnoText() }
        case .iouringRegister(let a, let s, let id):
            guard let ring = rings[id], ring >= 0 else { return "io_uring_setup: " + errnoText() }
            if HostSyscalls.iouringRegisterBuffer(ring, a, s) < 0 { return "io_uring_register: " + errnoText() }
        case .iouringRelease(let id):
            guard let ring = rings[id] else { return "no io_uring for \(id) in this process" }
            close(ring)
        case .readPipe(let name):
            guard let p = pipes[name] else { return "read: no pipe \(name) in this process" }
            var got = 0
            while got < pipeBuffer.count {
                let n = pipeBuffer.withUnsafeMutableBytes { Glibc.read(p.read, $0.baseAddress! + got, $0.count - got) }
                if n <= 0 { break }
                got += n
            }
            slots[2] = got
        case .fork, .exit, .empty:
            break
        case .clearRefs:
            let fd = open("/proc/self/clear_refs", O_WRONLY)
            if fd < 0 { return "clear_refs: " + errnoText() }
            defer { close(fd) }
            if write(fd, "4", 1) != 1 { return "clear_refs: " + errnoText() }
        }
        return nil
    }

    /// fork(2): the child keeps only its own pipes and its descendants', reopens its
    /// pagemap and says it is ready on its own reply pipe; the parent closes them. So a
    /// reply pipe ends exactly when its process has closed its files (`HostRun.waitForExit`).
    mutating func fork(_ child: String) {
        guard let mine = others.first(where: { $0.name == child }) else { return reply("err fork: no pipes for \(child)") }
        let tree = subtree(child)
        let pid = forkWindow()
        if pid < 0 { return reply("err fork: " + errnoText()) }
        if pid == 0 {
            touchScratch()
            for p in [me] + others where !tree.contains(p.name) {
                close(p.command)
                close(p.reply)
            }
            close(pagemap)
            pagemap = open("/proc/self/pagemap", O_RDONLY)
            me = mine
            others.removeAll { !tree.contains($0.name) || $0.name == child }
            input = []
            ownPrivatePages()
            warmUp()
            reply("ready pid=\(getpid())")
            return
        }
        for p in others where tree.contains(p.name) {
            close(p.command)
            close(p.reply)
        }
        others.removeAll { tree.contains($0.name) }
        ownPrivatePages()
        warmUp()
        reply("ok faults=\(slots[1] - slots[0]) rss=\(rss()) \(counterDeltas())")
    }

    /// After a fork, the helper's own writable pages are shared with the other process: the
    /// first write to each would take a COW fault inside some later step. MADV_POPULATE_WRITE
    /// (5.14+) breaks the sharing of all of them now, outside any step (the config's
    /// mappings are left alone), and a second warm-up (`warmUp`) catches what it misses.
    func ownPrivatePages() {
        let own = UInt64(UInt(bitPattern: scratch))
        HostHelper.forEachWritableMapping { a, b, _ in
            if a == own || ranges.contains(where: { $0.0 < b && a < $0.1 }) { return }
            _ = madvise(UnsafeMutableRawPointer(bitPattern: UInt(a)), Int(b - a), 23)
        }
    }

    /// `p` and the processes forked from it, directly or not.
    func subtree(_ p: String) -> Set<String> {
        var out: Set<String> = [p]
        var grew = true
        while grew {
            grew = false
            for q in others where !out.contains(q.name) && out.contains(q.parent) {
                out.insert(q.name)
                grew = true
            }
        }
        return out
    }

    // MARK: measuring

    /// The pagemap entries of [a, a + s): the PFN of each present page, 0 where none.
    func pfns(_ a: UInt64, _ s: UInt64) -> [UInt64] {
        let n = Int(s >> Geometry.pageShift)
        var out = [UInt64](repeating: 0, count: n)
        let got = out.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, n * 8, off_t((a >> Geometry.pageShift) * 8)) }
        if got != n * 8 { return out }
        for i in out.indices { out[i] = out[i] >> 63 != 0 ? out[i] & ((1 << 55) - 1) : 0 }
        return out
    }

    mutating func isZeroPage(_ pfn: UInt64) -> Bool {
        if let z = zeroCache[pfn] { return z }
        var flags: UInt64 = 0
        let got = pread(kpageflags, &flags, 8, off_t(pfn * 8))
        let z = got == 8 && flags & (1 << 24) != 0
        zeroCache[pfn] = z
        return z
    }

    /// Present pages of the config's mappings that are not the zero page.
    mutating func rss() -> Int {
        var n = 0
        for (a, b) in ranges {
            for p in pfns(a, b - a) where p != 0 && !isZeroPage(p) { n += 1 }
        }
        return n
    }

    // MARK: plumbing

    func store(_ addr: UInt64, _ v: UInt32) {
        UnsafeMutablePointer<UInt32>(bitPattern: UInt(addr))!.pointee = v
    }
    mutating func load(_ addr: UInt64) {
        sink &+= UnsafeMutablePointer<UInt32>(bitPattern: UInt(addr))!.pointee
    }

    /// The config's mappings after `cmd` succeeded (kept outside the measured window).
    mutating func track(_ cmd: HostCommand) {
        switch cmd {
        case .mmap(let a, let s, _): ranges.append((a, a + s))
        case .iouringRelease(let id): rings[id] = nil
        case .munmap(let a, let s): remove(a, a + s)
        case .mremap(let a, let s, let to):
            remove(a, a + s)
            remove(to, to + s)
            ranges.append((to, to + s))
        default: break
        }
    }

    mutating func remove(_ a: UInt64, _ b: UInt64) {
        var out: [(UInt64, UInt64)] = []
        for (x, y) in ranges {
            if y <= a || x >= b { out.append((x, y)); continue }
            if x < a { out.append((x, a)) }
            if y > b { out.append((b, y)) }
        }
        ranges = out
    }

    mutating func readLine() -> String? {
        while true {
            if let nl = input.firstIndex(of: 10) {
                let line = String(decoding: input[..<nl], as: UTF8.self)
                input.removeSubrange(...nl)
                return line
            }
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { Glibc.read(me.command, $0.baseAddress, 4096) }
            if n <= 0 { return nil }
            input += buf[..<n]
        }
    }

    func reply(_ s: String) {
        let bytes = Array((s + "\n").utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(me.reply, $0.baseAddress, $0.count) }
            if n <= 0 { _exit(3) }
            off += n
        }
    }

    func errnoText() -> String { String(cString: strerror(errno)) }

    static func prot(_ p: Prot) -> Int32 {
        (p.contains(.read) ? PROT_READ : 0) | (p.contains(.write) ? PROT_WRITE : 0) | (p.contains(.exec) ? PROT_EXEC : 0)
    }

    static func advice(_ a: Advice) -> Int32 {
        switch a {
        case .hugepage: 14
        case .nohugepage: 15
        case .dontneed: 4
        case .dontfork: 10
        case .dofork: 11
        case .wipeonfork: 18
        case .keeponfork: 19
        case .pageout: 21
        }
    }
}

/// System calls Swift cannot call directly (C variadics, GNU extensions).
enum HostSyscalls {
    /// `sched_setaffinity(0, 128, set)` with a 1024-CPU mask.
    static func setAffinity(_ set: inout [UInt8]) -> Int32 {
        typealias F = @convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32
        guard let sym = dlsym(nil, "sched_setaffinity") else { return -1 }
        return set.withUnsafeBytes { unsafeBitCast(sym, to: F.self)(0, 128, $0.baseAddress!) }
    }

    /// `vmsplice(fd, {addr, size}, 1, 0)`: the bytes spliced, or -1.
    static func vmsplice(_ fd: Int32, _ addr: UInt64, _ size: UInt64) -> Int {
        typealias F = @convention(c) (Int32, UnsafeRawPointer, Int, UInt32) -> Int
        guard let sym = vmspliceSymbol else { return -1 }
        var iov = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(addr)), iov_len: Int(size))
        return withUnsafePointer(to: &iov) { unsafeBitCast(sym, to: F.self)(fd, UnsafeRawPointer($0), 1, 0) }
    }

    // Looked up once (the warm-up's first use), not inside a measured step.
    nonisolated(unsafe) static let vmspliceSymbol = dlsym(nil, "vmsplice")
    nonisolated(unsafe) static let syscallSymbol = dlsym(nil, "syscall")
    nonisolated(unsafe) static let mremapSymbol = dlsym(nil, "mremap")

    /// `syscall(number, a, b, c, d)` (io_uring's numbers are the same on every architecture).
    static func syscall4(_ number: Int, _ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int {
        typealias F = @convention(c) (Int, Int, Int, Int, Int) -> Int
        guard let sym = syscallSymbol else { return -1 }
        return unsafeBitCast(sym, to: F.self)(number, a, b, c, d)
    }

    /// io_uring_setup(1, zeroed params): the ring's fd, or -1.
    static func iouringSetup() -> Int32 {
        var params = [UInt8](repeating: 0, count: 120)
        let fd = params.withUnsafeMutableBytes { syscall4(425, 1, Int(bitPattern: $0.baseAddress!), 0, 0) }
        return Int32(truncatingIfNeeded: fd)
    }

    /// io_uring_register(ring, IORING_REGISTER_BUFFERS, {addr, size}, 1).
    static func iouringRegisterBuffer(_ ring: Int32, _ addr: UInt64, _ size: UInt64) -> Int {
        var iov = iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt(addr)), iov_len: Int(size))
        return withUnsafeMutablePointer(to: &iov) { syscall4(427, Int(ring), 0, Int(bitPattern: $0), 1) }
    }

    /// `mallopt(param, value)` (malloc.h).
    static func mallopt(_ param: Int32, _ value: Int32) {
        typealias F = @convention(c) (Int32, Int32) -> Int32
        guard let sym = dlsym(nil, "mallopt") else { return }
        _ = unsafeBitCast(sym, to: F.self)(param, value)
    }

    /// `sched_getaffinity(0, 128, set)`.
    static func getAffinity(_ set: inout [UInt8]) -> Int32 {
        typealias F = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
        guard let sym = dlsym(nil, "sched_getaffinity") else { return -1 }
        return set.withUnsafeMutableBytes { unsafeBitCast(sym, to: F.self)(0, 128, $0.baseAddress!) }
    }

    /// `mremap(old, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, new)`; the address it returns.
    static func mremap(_ old: UInt64, _ size: UInt64, _ new: UInt64) -> UInt64 {
        typealias F = @convention(c) (UnsafeMutableRawPointer?, Int, Int, Int32, UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?
        guard let sym = mremapSymbol else { return UInt64.max }
        let f = unsafeBitCast(sym, to: F.self)
        let r = f(UnsafeMutableRawPointer(bitPattern: UInt(old)), Int(size), Int(size), 1 | 2, UnsafeMutableRawPointer(bitPattern: UInt(new)))
        return r.map { UInt64(UInt(bitPattern: $0)) } ?? 0
    }
}
#endif
