import FolioSimModel
import FolioSimExplore

/// One config op, defined in one place: its name, its fields and their decoding (with the
/// processes, pins and pipes it uses or creates), the process it acts in, its summary for
/// reports and traces, its help text, what it calls in the model, and what kernel-diff runs
/// on the host for it. `Op` holds any of them; `OpRegistry.all` lists them. Footprints are not
/// here: the model's accessors record them.
protocol OpBody: Sendable {
    /// The `op` of a config step, e.g. `"write"`.
    static var name: String { get }
    /// The help text's and README's "fields" column.
    static var fieldsHelp: String { get }
    /// The help text's and README's "what it does" column.
    static var help: String { get }
    /// `repeat` and `stride` apply (ops with an address range that can move).
    static var repeatable: Bool { get }
    /// The op reads `stride` as a field of its own (`touch`'s pattern), not as `repeat`'s.
    static var ownsStride: Bool { get }
    /// The fields of a step that name a process, pin or pipe the step creates, read from the
    /// raw config before its threads are decoded (a racing thread may use them).
    static var creates: [(field: String, kind: NameKind)] { get }
    /// Decodes the op's own fields (the step's `op`, `repeat` and `stride` are read), in
    /// the order errors should be reported, and records what it uses and creates.
    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> Self

    /// The process the op acts in; nil for ops on a pin, and for a trace (its processes
    /// come from the trace).
    var process: String? { get }
    /// A short description for reports: `write P 0x40000000 8M`.
    var summary: String { get }
    /// The address range of one repetition, and where an mremap moves it (nil: no address).
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { get }
    /// The same op at an address `d` bytes higher (a `repeat` with a `stride`).
    func shifted(by d: UInt64) -> Self
    /// The per-step limits (`ConfigLimits`) for `repeats` repetitions.
    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError)
    /// Runs the op (every kernel path to its end, or to its scheduling points under the
    /// explorer); a thrown error is the step's error.
    func run(_ r: OpRun) async throws
    /// What kernel-diff runs on the host for it, or why the host cannot run it.
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip>
    /// Equal to `other` (same op, same fields).
    func isEqual(to other: any OpBody) -> Bool
}

/// A kind of name a config step can create.
enum NameKind: Sendable { case process, pin, pipe }

extension OpBody {
    static var repeatable: Bool { false }
    static var ownsStride: Bool { false }
    static var creates: [(field: String, kind: NameKind)] { [] }
    var range: (addr: UInt64, size: UInt64, to: UInt64?)? { nil }
    func shifted(by d: UInt64) -> Self { self }
    func checkLimits(repeats: UInt64, _ f: inout Fields) throws(ConfigError) {
        if let r = range { try ConfigLimits.checkWalk(pages: r.size >> Geometry.pageShift, repeats: repeats, &f) }
    }
}

extension OpBody where Self: Equatable {
    func isEqual(to other: any OpBody) -> Bool { (other as? Self) == self }
}

/// What an op runs with: the run's user space, the step's index, the thread that runs it
/// (nil for ops without a process) and the name of a `threads:` entry.
struct OpRun {
    let state: RunState
    let step: Int
    let thread: SimThread?
    let threadName: String?
    var world: World { state.world }
    /// The op's own thread (ops with a process always have one: `RunState.execute`).
    var t: SimThread { thread! }
}

/// One operation of a scenario: any op of `OpRegistry.all`.
public struct Op: Equatable, Sendable, DescribedOperation {
    let body: any OpBody
    init(_ body: any OpBody) { self.body = body }
    /// The op's config name.
    public var name: String { type(of: body).name }
    /// A short description for reports: `write P 0x40000000 8M`.
    public var summary: String { body.summary }
    /// The process a step acts in (nil for ops on a pin and for a trace).
    var process: String? { body.process }
    /// The same op at an address `d` bytes higher.
    func shifted(by d: UInt64) -> Op { Op(body.shifted(by: d)) }
    /// Whether the op is `O`, and its fields if so.
    func `as`<O: OpBody>(_: O.Type) -> O? { body as? O }
    public static func == (a: Op, b: Op) -> Bool { a.body.isEqual(to: b.body) }
}

/// What the decoder and the reference need of an op type, captured from its definition
/// (a generic closure: the decoder never opens an `any OpBody.Type`).
struct OpEntry: Sendable {
    let name: String
    let fieldsHelp: String
    let help: String
    let repeatable: Bool
    let ownsStride: Bool
    let creates: [(field: String, kind: NameKind)]
    /// Decodes the op's fields and checks its limits for a step of `repeats` repetitions.
    let decode: @Sendable (inout Fields, inout ProcessTracker, _ repeats: Int) throws(ConfigError) -> any OpBody

    init<O: OpBody>(_: O.Type) {
        name = O.name; fieldsHelp = O.fieldsHelp; help = O.help; repeatable = O.repeatable; ownsStride = O.ownsStride; creates = O.creates
        decode = { (f: inout Fields, names: inout ProcessTracker, repeats: Int) throws(ConfigError) -> any OpBody in
            let body = try O.decode(&f, &names)
            try f.finish()
            try body.checkLimits(repeats: UInt64(repeats), &f)
            return body
        }
    }
}

enum OpRegistry {
    /// Every op a config can name, in the order of the help text and the README's table.
    static let all: [OpEntry] = [
        OpEntry(MmapOp.self), OpEntry(MunmapOp.self), OpEntry(MprotectOp.self), OpEntry(MadviseOp.self),
        OpEntry(MremapOp.self), OpEntry(WriteOp.self), OpEntry(ReadOp.self), OpEntry(TouchOp.self), OpEntry(ForkOp.self),
        OpEntry(ExitOp.self), OpEntry(PinOp.self), OpEntry(UnpinOp.self), OpEntry(CheckPinOp.self), OpEntry(VmspliceOp.self),
        OpEntry(ReadPipeOp.self), OpEntry(IouringRegisterOp.self), OpEntry(GupTestPinOp.self), OpEntry(ReadPinOp.self),
        OpEntry(ClearRefsOp.self), OpEntry(TraceOp.self),
    ]

    static func entry(named name: String) -> OpEntry? { all.first { $0.name == name } }
}

/// The ops' reference, generated from their definitions: `foliosim help ops` prints it and
/// README's op table is it (a test checks that they agree).
public enum OpReference {
    /// The Markdown table of every op: name, fields, what it does.
    public static var markdownTable: String {
        var out = "| op | fields | what it does |\n|---|---|---|\n"
        for o in OpRegistry.all { out += "| `\(o.name)` | \(o.fieldsHelp) | \(o.help) |\n" }
        return out
    }

    /// The same as plain text, one op per paragraph.
    public static var text: String {
        var out = "Config ops (every step has `op`; `proc` is the process that runs it):\n"
        for o in OpRegistry.all {
            out += "\n  \(o.name)\n    fields: \(o.fieldsHelp.replacingOccurrences(of: "\\|", with: "|"))\n"
            out += "    \(o.help.replacingOccurrences(of: "\\|", with: "|"))\n"
        }
        return out
    }
}

/// Shared pieces of the ops' summaries.
enum OpText {
    static func hex(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }
    static func range(_ proc: String, _ addr: UInt64, _ size: UInt64) -> String { "\(proc) \(hex(addr)) \(formatSize(size))" }
}

/// Shared decoding of the ops' fields.
extension Fields {
    /// `proc`: a process that exists here (or comes into being, in `steps`).
    mutating func process(_ names: inout ProcessTracker) throws(ConfigError) -> String {
        let p = try name("proc", of: "process")
        try names.use(p, fail("proc", ""))
        return p
    }

    mutating func prot() throws(ConfigError) -> Prot {
        let s = try requireString("prot")
        guard let p = parseProt(s) else { throw fail("prot", "expected \"none\" or letters of \"rwx\" in that order, each once, such as \"rw\", found \(JSONWriter.quote(s))") }
        return p
    }

    /// A data word (`value`, `expect`).
    mutating func value(_ key: String) throws(ConfigError) -> UInt32? {
        guard let n = try int(key) else { return nil }
        guard n >= 0, n <= Int(UInt32.max) else { throw fail(key, "expected an integer from 0 to 4294967295") }
        return UInt32(n)
    }

    /// A new pin `id`, recorded as taken.
    mutating func newPin(_ names: inout ProcessTracker) throws(ConfigError) -> String {
        let id = try name("id", of: "pin")
        if names.pins.contains(id) { throw fail("id", "pin \(JSONWriter.quote(id)) is already held") }
        names.takePin(id, sub("id"))
        return id
    }

    /// A pin `id` held here.
    mutating func heldPin(_ names: ProcessTracker) throws(ConfigError) -> String {
        let id = try name("id", of: "pin")
        guard names.hasPin(id) else { throw names.noPin(id, fail("id", "")) }
        return id
    }
}
