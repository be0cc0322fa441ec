import FolioSimModel
import FolioSimExplore
import Foundation

/// Replays a real program's perf trace (PerfTrace.swift, TraceReplay.swift).
struct TraceOp: OpBody, Equatable {
    static let name = "trace"
    static let fieldsHelp = "`file` (the text of `perf script`, a path relative to the config)"
    static let help = "replays a recorded program: its mappings, munmap, mprotect, madvise, mremap, fork, exec and exit, and its faults in anonymous memory as loads and stores (see \"Real programs: perf traces\")"
    var file: String, trace: PerfTrace

    static func decode(_ f: inout Fields, _ names: inout ProcessTracker) throws(ConfigError) -> TraceOp {
        let name = try f.requireString("file")
        let dir = (f.file as NSString).deletingLastPathComponent
        let path = name.hasPrefix("/") || dir.isEmpty ? name : (dir as NSString).appendingPathComponent(name)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw f.fail("file", "cannot read \(JSONWriter.quote(path)) (expected the text of perf script, see the README's trace recipe)")
        }
        let trace: PerfTrace
        do {
            trace = try PerfTrace.parse(text)
        } catch {
            throw f.fail("file", "\(JSONWriter.quote(path)) line \(error.line): \(error.message)")
        }
        guard !trace.events.isEmpty else {
            throw f.fail("file", "\(JSONWriter.quote(path)) holds no perf events (expected the text of perf script, see the README's trace recipe)")
        }
        return TraceOp(file: path, trace: trace)
    }

    var process: String? { nil }
    var summary: String { "trace \(oneLine(file.split(separator: "/").last.map(String.init) ?? file)) (\(trace.events.count) events)" }
    func run(_ r: OpRun) async throws { r.state.traces.append(await r.state.replay(trace, file: file)) }
    func hostCommand(hostHasSwap: Bool) -> Result<HostCommand, HostPlan.Skip> {
        .failure(HostPlan.Skip(text: "a perf trace replay is not a sequence of this config's system calls"))
    }
}
