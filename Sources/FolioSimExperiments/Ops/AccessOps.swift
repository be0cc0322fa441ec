import FolioSimModel
import FolioSimExplore

/// User-space stores: one byte into every 4 KiB page of the range, in order.
struct WriteOp: OpBody, Equatable {
    static let name = "write"
    static let fieldsHelp = "`addr`, `size` (default `4K`), `value` (default 1)"
    static let help = "stores `value` into one byte of every 4 KiB page of the range, in order"
    static let repeatable = true
    var proc: String, addr: UInt64, size: UInt64, value: UInt32

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> WriteOp {
        WriteOp(proc: try f.process(&names), addr: try f.requireAddress("addr"),
                size: try f.pageSize("size", default: Geometry.pageSize), value: try f.value("value") ?? 1)
    }

    var process: String? { proc }
    var summary: String { "write \(OpText.range(proc, addr, size)) = \(value)" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func shifted(by d: UInt64) -> WriteOp { var o = self; o.addr += d; return o }
    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError) { try ConfigLimits.checkAccesses(size: size, repeats: repeats, &f) }
    func run(_ r: OpRun) async throws {
        await r.state.access(r.step, Op(self), r.t, PageAddresses(addr: addr, size: size), write: true, value: value, expect: nil)
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.write(addr: addr, size: size, value: value)) }
}

/// User-space loads of every page of the range; `expect` checks the value.
struct ReadOp: OpBody, Equatable {
    static let name = "read"
    static let fieldsHelp = "`addr`, `size` (default `4K`), `expect` (optional)"
    static let help = "loads every page; a value other than `expect` is the `read-value` violation"
    static let repeatable = true
    var proc: String, addr: UInt64, size: UInt64, expect: UInt32?

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> ReadOp {
        ReadOp(proc: try f.process(&names), addr: try f.requireAddress("addr"),
               size: try f.pageSize("size", default: Geometry.pageSize), expect: try f.value("expect"))
    }

    var process: String? { proc }
    var summary: String { "read \(OpText.range(proc, addr, size))" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }
    func shifted(by d: UInt64) -> ReadOp { var o = self; o.addr += d; return o }
    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError) { try ConfigLimits.checkAccesses(size: size, repeats: repeats, &f) }
    func run(_ r: OpRun) async throws {
        let values = await r.state.access(r.step, Op(self), r.t, PageAddresses(addr: addr, size: size), write: false, value: 0, expect: expect)
        if let values { r.state.observations?.append(.data(values)) }
    }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> { .success(.read(addr: addr, size: size)) }
}

/// Loads or stores by pattern (`TouchPattern`).
struct TouchOp: OpBody, Equatable {
    static let name = "touch"
    static let fieldsHelp = "`addr`, `size`, `pattern` (`seq`, `random` with `seed` and `count`, `stride` with `stride`), `count`, `write` (default false), `value`"
    static let help = "accesses pages by pattern; `random` uses the LCG of the earlier C host check (`wl_sparse.c`), and kernel-diff's helper touches the same pages"
    static let ownsStride = true
    var proc: String, addr: UInt64, size: UInt64, pattern: TouchPattern, count: Int?, write: Bool, value: UInt32

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> TouchOp {
        let p = try f.process(&names)
        let addr = try f.requireAddress("addr"), size = try f.pageSize("size")
        let count = try f.int("count", min: 1)
        if let c = count, c > ConfigLimits.maxAccessesPerStep { throw f.fail("count", "expected at most \(ConfigLimits.maxAccessesPerStep) accesses, found \(c)") }
        let pattern = try decodePattern(&f, count: count)
        return TouchOp(proc: p, addr: addr, size: size, pattern: pattern, count: count,
                       write: try f.bool("write") ?? false, value: try f.value("value") ?? 1)
    }

    private static func decodePattern(_ f: inout Fields, count: Int?) throws(ConfigError) -> TouchPattern {
        switch try f.string("pattern") ?? "seq" {
        case "seq": return .seq
        case "random":
            guard let seed = try f.int("seed", min: 0) else { throw f.fail("seed", "missing required field (pattern \"random\" needs a seed)") }
            guard count != nil else { throw f.fail("count", "missing required field (pattern \"random\" needs a count)") }
            return .random(seed: UInt64(seed))
        case "stride":
            guard let stride = try f.size("stride") else { throw f.fail("stride", "missing required field (pattern \"stride\" needs a stride such as \"64K\")") }
            guard stride > 0, stride % Geometry.pageSize == 0 else { throw f.fail("stride", "expected a positive multiple of 4K") }
            return .stride(stride >> Geometry.pageShift)
        case let other:
            throw f.fail("pattern", "expected one of \"seq\", \"random\", \"stride\", found \(JSONWriter.quote(other))")
        }
    }

    var process: String? { proc }
    var summary: String { "touch \(OpText.range(proc, addr, size))\(write ? " write" : " read")" }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { (addr, size, nil) }

    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError) {
        let pages = size >> Geometry.pageShift
        let n: UInt64
        switch pattern {
        case .seq: n = ConfigLimits.times(pages, UInt64(count ?? 1))
        case .random: n = UInt64(count ?? 1)
        case .stride(let s): n = count.map(UInt64.init) ?? (pages + s - 1) / s
        }
        if n > UInt64(ConfigLimits.maxAccessesPerStep) {
            throw f.fail("count", "the step would access \(n == .max ? "more than 2^64" : "\(n)") pages; at most \(ConfigLimits.maxAccessesPerStep) (256 GiB) per step")
        }
    }

    func run(_ r: OpRun) async throws {
        await r.state.access(r.step, Op(self), r.t, pattern.addresses(addr, size, count: count), write: write, value: value, expect: nil)
    }

    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> {
        .success(.touch(addr: addr, size: size, pattern: pattern, count: count, write: write, value: value))
    }
}
