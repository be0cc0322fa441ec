import FolioSimModel
import FolioSimExplore

/// `vmsplice` of the range into a pipe: FOLL_GET references, at most 16 pages.
struct VmspliceOp: OpBody, Equatable {
    static let name = "vmsplice"
    static let fieldsHelp = "`addr`, `size` (default `4K`), `pipe` (a name)"
    static let help = "`vmsplice()` into the pipe: FOLL_GET references (GUP-fast first, no FOLL_PIN), at most the pipe's 16 pages"
    static let creates: [(field: String, kind: NameKind)] = [("pipe", .pipe)]
    var proc: String, addr: UInt64, size: UInt64, pipe: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> VmspliceOp {
        let p = try f.process(&names)
        let addr = try f.requireAddress("addr"), size = try f.pageSize("size", default: Geometry.pageSize)
        let pipe = try f.name("pipe", of: "pipe")
        names.pipes.insert(pipe)
        names.thread?.filled.insert(pipe)
        return VmspliceOp(proc: p, addr: addr, size: size, pipe: pipe)
    }

    var process: String? { proc }
    var summary: String { "vmsplice \(OpText.range(proc, addr, size)) into \(pipe)" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError) { try ConfigLimits.checkPin(size: size, &f) }
    func run(_ r: OpRun) async throws {
        try await r.world.vmsplice(r.t, pipe: pipe, addr: addr, nrPages: Int(size >> Geometry.pageShift))
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.vmsplice(addr: addr, size: size, pipe: pipe)) }
}

/// Reads the pipe: the referenced pages' data now; drops the references.
struct ReadPipeOp: OpBody, Equatable {
    static let name = "readPipe"
    static let fieldsHelp = "`pipe`, `expect` (optional)"
    static let help = "reads the pipe: the data the referenced pages hold now; drops the references"
    var proc: String, pipe: String, expect: UInt32?

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> ReadPipeOp {
        let p = try f.process(&names)
        let pipe = try f.name("pipe", of: "pipe")
        guard names.hasPipe(pipe) else { throw f.fail("pipe", "nothing was vmspliced into pipe \(JSONWriter.quote(pipe)) before this step") }
        names.pipes.remove(pipe)
        names.thread?.drained[pipe] = f.sub("pipe")
        return ReadPipeOp(proc: p, pipe: pipe, expect: try f.value("expect"))
    }

    var process: String? { proc }
    var summary: String { "readPipe \(proc) \(pipe)" }
    func run(_ r: OpRun) async throws {
        let data = await r.world.readPipe(r.thread, pipe: pipe) ?? []
        r.state.recordRead(r.step, "pipe \(pipe)", data, expect: expect, mm: r.t.mm)
        r.state.observations?.append(.data(data))
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.readPipe(pipe: pipe)) }
}
