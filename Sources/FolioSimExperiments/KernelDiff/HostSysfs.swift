import FolioSimModel
import FolioSimExplore

#if canImport(Glibc)
import Foundation
import Glibc

/// Why kernel-diff cannot run, or what went wrong on the host: one line for the user.
public struct KernelDiffError: Error, Sendable, CustomStringConvertible {
    /// One line for the user.
    public var message: String
    /// The message.
    public var description: String { message }
}

/// The host's THP sysfs files kernel-diff writes for a run, saved first and written back
/// afterwards: when the run ends, when it fails, and on SIGINT or SIGTERM (the handler writes
/// the saved values with async-signal-safe calls, kills the helpers and exits with 130).
final class HostSysfs {
    static let root = "/sys/kernel/mm/transparent_hugepage"

    /// Files and the values they held, in the order they were saved.
    private(set) var saved: [(path: String, value: String)] = []

    /// Root with a writable THP sysfs, or the one-line reason why not.
    static func checkAccess() throws(KernelDiffError) {
        if geteuid() != 0 {
            throw KernelDiffError(message: "kernel-diff needs root: it writes \(root) and reads /proc/self/pagemap PFNs (run it with sudo)")
        }
        if access(root + "/enabled", W_OK) != 0 {
            throw KernelDiffError(message: "kernel-diff needs a writable \(root)/enabled (this kernel has no THP sysfs, or it is read-only here)")
        }
    }

    /// The sysfs file of anon order `o` (nil when this kernel has none).
    static func sizeDir(_ o: Int) -> String? {
        let d = root + "/hugepages-\((Int(Geometry.pageSize) << o) / 1024)kB"
        return access(d + "/enabled", F_OK) == 0 ? d : nil
    }

    /// Saves every file `apply` writes, then writes `thp`'s settings.
    func apply(_ thp: THPSettings) throws(KernelDiffError) {
        var writes: [(String, String)] = [(Self.root + "/enabled", thp.enabled.rawValue),
                                          (Self.root + "/use_zero_page", thp.useZeroPage ? "1" : "0")]
        for o in THPSettings.anonOrders {
            if let d = Self.sizeDir(o) { writes.append((d + "/enabled", thp.perOrder[o].rawValue)) }
        }
        for (path, _) in writes {
            guard let v = Self.read(path) else { throw KernelDiffError(message: "cannot read \(path)") }
            saved.append((path, Self.selected(v)))
        }
        HostSignals.arm(saved)
        for (path, value) in writes where !Self.write(path, value) {
            restore()
            throw KernelDiffError(message: "cannot write '\(value)' to \(path)")
        }
    }

    /// Writes back every saved value; the failures, as text.
    @discardableResult
    func restore() -> [String] {
        var failed: [String] = []
        for (path, value) in saved where !Self.write(path, value) { failed.append("\(path) <- \(value)") }
        saved = []
        HostSignals.disarm()
        return failed
    }

    /// `always [madvise] never` → `madvise`; a plain value as it is.
    static func selected(_ text: String) -> String {
        if let a = text.firstIndex(of: "["), let b = text.firstIndex(of: "]"), a < b {
            return String(text[text.index(after: a)..<b])
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
        guard n >= 0 else { return nil }
        return String(decoding: buf[..<n], as: UTF8.self)
    }

    static func readInt(_ path: String) -> Int? {
        read(path).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func write(_ path: String, _ value: String) -> Bool {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}

/// What the SIGINT/SIGTERM handler needs, in memory it can use without allocating: the
/// saved sysfs files as C strings and the helpers' pids.
enum HostSignals {
    nonisolated(unsafe) static var files: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    nonisolated(unsafe) static var fileCount = 0
    nonisolated(unsafe) static var pids = UnsafeMutablePointer<pid_t>.allocate(capacity: 256)
    nonisolated(unsafe) static var pidCount = 0

    /// Keeps `saved` as `path\0value\0` strings and installs the handlers.
    static func arm(_ saved: [(path: String, value: String)]) {
        let buf = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: saved.count * 2)
        for (i, s) in saved.enumerated() {
            buf[2 * i] = strdup(s.path)
            buf[2 * i + 1] = strdup(s.value)
        }
        files = buf
        fileCount = saved.count
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    static func disarm() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        fileCount = 0
    }

    static func addHelper(_ pid: pid_t) {
        if (0..<pidCount).contains(where: { pids[$0] == pid }) { return }
        if pidCount < 256 { pids[pidCount] = pid; pidCount += 1 }
    }

    static func killHelpers() {
        for i in 0..<pidCount { kill(pids[i], SIGKILL) }
        pidCount = 0
    }

    static let handler: @convention(c) (Int32) -> Void = { _ in
        HostSignals.killHelpers()
        if let f = HostSignals.files {
            for i in 0..<HostSignals.fileCount {
                guard let path = f[2 * i], let value = f[2 * i + 1] else { continue }
                let fd = open(path, O_WRONLY)
                if fd >= 0 {
                    _ = Glibc.write(fd, value, strlen(value))
                    close(fd)
                }
            }
        }
        _exit(130)
    }
}
#endif
