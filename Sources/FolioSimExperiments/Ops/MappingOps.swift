import FolioSimModel
import FolioSimExplore

/// `mmap(MAP_FIXED)` of anonymous memory or of a file.
struct MmapOp: OpBody, Equatable {
    static let name = "mmap"
    static let fieldsHelp = "`addr`, `size`, `prot` (`\"r\"`, `\"rw\"`, `\"rwx\"`, `\"none\"`), `map` (`private-anon`, `private-file`, `shared-file`); for files `file` (a name), `fileKind` (`memfd` default, or `regular`: dirty-tracked, so shared writes fault), `offset`"
    static let help = "`mmap(MAP_FIXED)`"
    static let repeatable = true
    var proc: String, addr: UInt64, size: UInt64, prot: Prot, map: MapSpec

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> MmapOp {
        let p = try f.process(&names)
        let addr = try f.requireAddress("addr"), size = try f.pageSize("size"), pr = try f.prot()
        let map = try f.requireString("map")
        let kind = try f.choice("fileKind", FileKind.self) ?? .memfd
        let offset = try f.size("offset") ?? 0
        if offset % Geometry.pageSize != 0 { throw f.fail("offset", "expected a multiple of 4K") }
        switch map {
        case "private-anon":
            if f.has("file") { throw f.fail("file", "a private-anon mapping has no file") }
            return MmapOp(proc: p, addr: addr, size: size, prot: pr, map: .privateAnon)
        case "private-file", "shared-file":
            guard let file = try f.string("file") else { throw f.fail("file", "missing required field (a \(map) mapping needs a file name)") }
            let spec: MapSpec = map == "private-file"
                ? .privateFile(name: file, kind: kind, offset: offset >> Geometry.pageShift)
                : .sharedFile(name: file, kind: kind, offset: offset >> Geometry.pageShift)
            return MmapOp(proc: p, addr: addr, size: size, prot: pr, map: spec)
        default:
            throw f.fail("map", "expected one of \"private-anon\", \"private-file\", \"shared-file\", found \(JSONWriter.quote(map))")
        }
    }

    var process: String? { proc }
    var summary: String { "mmap \(OpText.range(proc, addr, size)) \(protString(prot))" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func shifted(by d: UInt64) -> MmapOp { var o = self; o.addr += d; return o }

    func run(_ r: OpRun) async throws {
        let kind: MapKind
        switch map {
        case .privateAnon: kind = .privateAnon
        case .privateFile(let name, let fk, let off): kind = .privateFile(file: r.world.fileIndex(named: name, kind: fk), pgoff: off)
        case .sharedFile(let name, let fk, let off): kind = .sharedFile(file: r.world.fileIndex(named: name, kind: fk), pgoff: off)
        }
        try await r.world.mmap(r.t, addr: addr, size: size, prot: prot, kind: kind)
    }

    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> {
        guard case .privateAnon = map else { return .failure(HostPlan.Skip(text: "file mappings are not run on the host")) }
        return .success(.mmap(addr: addr, size: size, prot: prot))
    }
}

/// `munmap`.
struct MunmapOp: OpBody, Equatable {
    static let name = "munmap"
    static let fieldsHelp = "`addr`, `size`"
    static let help = "`munmap`"
    static let repeatable = true
    var proc: String, addr: UInt64, size: UInt64

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> MunmapOp {
        MunmapOp(proc: try f.process(&names), addr: try f.requireAddress("addr"), size: try f.pageSize("size"))
    }

    var process: String? { proc }
    var summary: String { "munmap \(OpText.range(proc, addr, size))" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func shifted(by d: UInt64) -> MunmapOp { var o = self; o.addr += d; return o }
    func run(_ r: OpRun) async throws { try await r.world.munmap(r.t, addr: addr, size: size) }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.munmap(addr: addr, size: size)) }
}

/// `mprotect`.
struct MprotectOp: OpBody, Equatable {
    static let name = "mprotect"
    static let fieldsHelp = "`addr`, `size`, `prot`"
    static let help = "`mprotect`; exclusive anon pages regain write at once (S6)"
    static let repeatable = true
    var proc: String, addr: UInt64, size: UInt64, prot: Prot

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> MprotectOp {
        MprotectOp(proc: try f.process(&names), addr: try f.requireAddress("addr"), size: try f.pageSize("size"), prot: try f.prot())
    }

    var process: String? { proc }
    var summary: String { "mprotect \(OpText.range(proc, addr, size)) \(protString(prot))" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func shifted(by d: UInt64) -> MprotectOp { var o = self; o.addr += d; return o }
    func run(_ r: OpRun) async throws { try await r.world.mprotect(r.t, addr: addr, size: size, prot: prot) }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.mprotect(addr: addr, size: size, prot: prot)) }
}

/// `madvise`.
struct MadviseOp: OpBody, Equatable {
    static let name = "madvise"
    static let fieldsHelp = "`addr`, `size`, `advice`: `hugepage`, `nohugepage`, `dontneed`, `dontfork`, `dofork`, `wipeonfork`, `keeponfork`, `pageout`"
    static let help = "`madvise`"
    static let repeatable = true
    var proc: String, addr: UInt64, size: UInt64, advice: Advice

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> MadviseOp {
        let p = try f.process(&names)
        let addr = try f.requireAddress("addr"), size = try f.pageSize("size")
        guard let adv = try f.choice("advice", Advice.self) else { throw f.fail("advice", "missing required field") }
        return MadviseOp(proc: p, addr: addr, size: size, advice: adv)
    }

    var process: String? { proc }
    var summary: String { "madvise \(OpText.range(proc, addr, size)) \(advice.rawValue)" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func shifted(by d: UInt64) -> MadviseOp { var o = self; o.addr += d; return o }
    func run(_ r: OpRun) async throws { try await r.world.madvise(r.t, addr: addr, size: size, advice: advice) }

    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> {
        if advice == .pageout && !hostHasSwap { return .failure(HostPlan.Skip(text: "MADV_PAGEOUT of anonymous memory needs a swap device; the host has none")) }
        return .success(.madvise(addr: addr, size: size, advice: advice))
    }
}

/// `mremap(MREMAP_MAYMOVE|MREMAP_FIXED)`.
struct MremapOp: OpBody, Equatable {
    static let name = "mremap"
    static let fieldsHelp = "`addr`, `size`, `to`"
    static let help = "moves the mapping (`MREMAP_MAYMOVE\\|MREMAP_FIXED`)"
    static let repeatable = true
    var proc: String, addr: UInt64, size: UInt64, to: UInt64

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> MremapOp {
        let p = try f.process(&names)
        let addr = try f.requireAddress("addr"), size = try f.pageSize("size")
        guard let to = try f.address("to") else { throw f.fail("to", "missing required field") }
        return MremapOp(proc: p, addr: addr, size: size, to: to)
    }

    var process: String? { proc }
    var summary: String { "mremap \(OpText.range(proc, addr, size)) → \(OpText.hex(to))" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, to) }
    func shifted(by d: UInt64) -> MremapOp { var o = self; o.addr += d; o.to += d; return o }
    func run(_ r: OpRun) async throws { try await r.world.mremap(r.t, from: addr, size: size, to: to) }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.mremap(addr: addr, size: size, to: to)) }
}
