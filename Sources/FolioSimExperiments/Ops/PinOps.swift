import FolioSimModel
import FolioSimExplore

/// Why kernel-diff cannot run an op on a simulated driver's pin.
private let driverPin = HostPlan.Skip(text: "a simulated driver's pin has no kernel interface from user space")

/// `pin_user_pages*` / `get_user_pages*`: the pages are held by a simulated driver as `id`.
struct PinOp: OpBody, Equatable {
    static let name = "pin"
    static let fieldsHelp = "`addr`, `size` (default `4K`), `id`, `flags`: `longterm`, `write`, `force`, `fast` (GUP-fast first), `get` (FOLL_GET instead of FOLL_PIN)"
    static let help = "`pin_user_pages*` / `get_user_pages*`; the pages are held by a simulated driver"
    static let creates: [(field: String, kind: NameKind)] = [("id", .pin)]
    var proc: String, addr: UInt64, size: UInt64, flags: GUPFlags, fast: Bool, id: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> PinOp {
        let p = try f.process(&names)
        let addr = try f.requireAddress("addr"), size = try f.pageSize("size", default: Geometry.pageSize)
        let id = try f.newPin(&names)
        var flags: GUPFlags = [.pin]
        var fast = false
        for (i, s) in (try f.strings("flags") ?? []).enumerated() {
            switch s {
            case "longterm": flags.insert(.longterm)
            case "write": flags.insert(.write)
            case "force": flags.insert(.force)
            case "fast": fast = true
            case "get": flags.remove(.pin); flags.insert(.get)
            default:
                throw ConfigError(file: f.file, path: "\(f.sub("flags"))[\(i)]",
                                  message: "expected one of \"longterm\", \"write\", \"force\", \"fast\", \"get\", found \(JSONWriter.quote(s))")
            }
        }
        if flags.contains(.get) && flags.contains(.longterm) { throw f.fail("flags", "\"longterm\" needs FOLL_PIN; it cannot go with \"get\"") }
        return PinOp(proc: p, addr: addr, size: size, flags: flags, fast: fast, id: id)
    }

    var process: String? { proc }
    var summary: String { "pin\(fast ? " fast" : "") \(OpText.range(proc, addr, size)) as \(id)" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError) { try ConfigLimits.checkPin(size: size, &f) }
    func run(_ r: OpRun) async throws {
        try await r.world.pin(r.t, id: id, addr: addr, nrPages: Int(size >> Geometry.pageShift), flags: flags, fast: fast)
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .failure(driverPin) }
}

/// `unpin_user_pages` / `put_page` of a held pin.
struct UnpinOp: OpBody, Equatable {
    static let name = "unpin"
    static let fieldsHelp = "`id`"
    static let help = "`unpin_user_pages` / `put_page`"
    var id: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> UnpinOp {
        let id = try f.heldPin(names)
        names.releasePin(id, f.sub("id"))
        return UnpinOp(id: id)
    }

    var process: String? { nil }
    var summary: String { "unpin \(id)" }
    func run(_ r: OpRun) async throws {
        await r.world.releasePin(id: id, by: r.threadName.flatMap { n in r.world.threads.last { $0.name == n } })
    }
    /// kernel-diff runs an io_uring buffer's `unpin` as the ring's release (`HostPlan`).
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .failure(driverPin) }
}

/// The user's assertion that a FOLL_PIN pin still sees the page the process maps.
struct CheckPinOp: OpBody, Equatable {
    static let name = "checkPin"
    static let fieldsHelp = "`id`"
    static let help = "the user's assertion that a FOLL_PIN pin still sees the page that the process maps at the pinned address (followed through the user's mremaps): a stale page is the `pin-coherent` violation under every preset — how a historic bug shows up under its era. Verdict (an outcome of `explore`): `coherent`, `stale`, `unmapped` (the user unmapped a pinned page, which the kernel allows; the rest agree) or `not checked` (a FOLL_GET reference)"
    var id: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> CheckPinOp {
        CheckPinOp(id: try f.heldPin(names))
    }

    var process: String? { nil }
    var summary: String { "checkPin \(id)" }
    func run(_ r: OpRun) async throws { await r.state.checkPin(r.step, id) }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .failure(driverPin) }
}

/// io_uring fixed-buffer registration: FOLL_WRITE | FOLL_PIN | FOLL_LONGTERM, held as `id`.
struct IouringRegisterOp: OpBody, Equatable {
    static let name = "iouringRegister"
    static let fieldsHelp = "`addr`, `size`, `id`"
    static let help = "`io_uring_register_buffers`: `pin_user_pages_fast(FOLL_WRITE \\| FOLL_LONGTERM)`, held as `id` until `unpin`"
    static let creates: [(field: String, kind: NameKind)] = [("id", .pin)]
    var proc: String, addr: UInt64, size: UInt64, id: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> IouringRegisterOp {
        let p = try f.process(&names)
        let addr = try f.requireAddress("addr"), size = try f.pageSize("size", default: Geometry.pageSize)
        return IouringRegisterOp(proc: p, addr: addr, size: size, id: try f.newPin(&names))
    }

    var process: String? { proc }
    var summary: String { "iouringRegister \(OpText.range(proc, addr, size)) as \(id)" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError) { try ConfigLimits.checkPin(size: size, &f) }
    func run(_ r: OpRun) async throws {
        try await r.world.iouringRegister(r.t, id: id, addr: addr, nrPages: Int(size >> Geometry.pageShift))
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.iouringRegister(addr: addr, size: size, id: id)) }
}

/// gup_test PIN_LONGTERM_TEST_START: an R/O long-term pin (`pin_user_pages[_fast]`).
struct GupTestPinOp: OpBody, Equatable {
    static let name = "gupTestPin"
    static let fieldsHelp = "`addr`, `size`, `id`, `fast` (default false)"
    static let help = "gup_test `PIN_LONGTERM_TEST_START`: an R/O long-term pin"
    static let creates: [(field: String, kind: NameKind)] = [("id", .pin)]
    var proc: String, addr: UInt64, size: UInt64, fast: Bool, id: String

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> GupTestPinOp {
        let p = try f.process(&names)
        let addr = try f.requireAddress("addr"), size = try f.pageSize("size", default: Geometry.pageSize)
        let id = try f.newPin(&names)
        return GupTestPinOp(proc: p, addr: addr, size: size, fast: try f.bool("fast") ?? false, id: id)
    }

    var process: String? { proc }
    var summary: String { "gupTestPin\(fast ? " fast" : "") \(OpText.range(proc, addr, size)) as \(id)" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError) { try ConfigLimits.checkPin(size: size, &f) }
    func run(_ r: OpRun) async throws {
        try await r.world.gupTestPin(r.t, id: id, addr: addr, nrPages: Int(size >> Geometry.pageShift), fast: fast)
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> {
        .failure(HostPlan.Skip(text: "gup_test (CONFIG_GUP_TEST, debugfs) is not driven by kernel-diff"))
    }
}

/// Reads through a held pin (IORING_OP_WRITE_FIXED, gup_test PIN_LONGTERM_TEST_READ).
struct ReadPinOp: OpBody, Equatable {
    static let name = "readPin"
    static let fieldsHelp = "`id`, `expect` (optional)"
    static let help = "reads through a held pin (IORING_OP_WRITE_FIXED, `PIN_LONGTERM_TEST_READ`): the pinned pages' data now"
    var id: String, expect: UInt32?

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> ReadPinOp {
        ReadPinOp(id: try f.heldPin(names), expect: try f.value("expect"))
    }

    var process: String? { nil }
    var summary: String { "readPin \(id)" }
    func run(_ r: OpRun) async throws {
        let data = r.world.readPinned(id: id) ?? []
        let mm = r.world.pins.last { $0.id == id && !$0.released }.map { r.world.mms[$0.mm] }
        r.state.recordRead(r.step, "pin \(id)", data, expect: expect, mm: mm)
        r.state.observations?.append(.data(data))
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .failure(driverPin) }
}
