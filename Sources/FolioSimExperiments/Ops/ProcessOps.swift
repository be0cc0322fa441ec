import FolioSimModel
import FolioSimExplore

/// `fork`: the child is a new process with one thread.
struct ForkOp: OpBody, Equatable {
    static let name = "fork"
    static let fieldsHelp = "`child` (a new name)"
    static let help = "`fork`; the child has one thread"
    static let creates: [(field: String, kind: NameKind)] = [("child", .process)]
    var proc: String, child: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> ForkOp {
        let p = try f.process(&names)
        let child = try f.name("child", of: "process")
        try names.create(child, f.fail("child", ""))
        return ForkOp(proc: p, child: child)
    }

    var process: String? { proc }
    var summary: String { "fork \(proc) → \(child)" }
    func run(_ r: OpRun) async throws { r.state.threads[child] = try await r.world.fork(r.t, childName: child) }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.fork(child: child)) }
}

/// The process exits: `exit_mmap`.
struct ExitOp: OpBody, Equatable {
    static let name = "exit"
    static let fieldsHelp = "—"
    static let help = "`exit_mmap`"
    var proc: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> ExitOp {
        let p = try f.process(&names)
        names.exit(p, f.fail("proc", ""))
        return ExitOp(proc: p)
    }

    var process: String? { proc }
    var summary: String { "exit \(proc)" }
    func run(_ r: OpRun) async throws {
        await r.world.exitMM(r.t)
        r.state.threads[proc] = nil
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.exit) }
}

/// `echo 4 > /proc/PID/clear_refs`: clear soft-dirty.
struct ClearRefsOp: OpBody, Equatable {
    static let name = "clearRefs"
    static let fieldsHelp = "—"
    static let help = "`echo 4 > /proc/PID/clear_refs`: clears soft-dirty, write-protects the PTEs (not maybe-pinned ones of a COW mapping), so the next mprotect() does not make them writable"
    var proc: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> ClearRefsOp {
        ClearRefsOp(proc: try f.process(&names))
    }

    var process: String? { proc }
    var summary: String { "clearRefs \(proc)" }
    func run(_ r: OpRun) async throws { await r.world.clearRefsSoftDirty(r.t) }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.clearRefs) }
}
