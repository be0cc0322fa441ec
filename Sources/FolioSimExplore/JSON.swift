import FolioSimModel

/// A parsed JSON5 value. Objects keep their key order, so that errors and reports follow the
/// order of the file.
public indirect enum JSONValue: Equatable, Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// A number with its source text (so that "0x40000000" and 1e3 keep their exact value).
    case number(Double, text: String)
    case bool(Bool)
    case null

    /// Equal values; numbers compare by value, not by how they were written.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let x), .array(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.number(let x, _), .number(let y, _)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    /// Kind name for error messages.
    package var kindName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

/// Writes JSON with keys in the order given: byte-identical output for identical values.
public enum JSONWriter {
    /// The text of `v`, indented by `indent` spaces a level (nil: one line).
    public static func write(_ v: JSONValue, indent: Int? = 2) -> String {
        var out = ""
        emit(v, indent, 0, &out)
        return out
    }

    private static func emit(_ v: JSONValue, _ indent: Int?, _ level: Int, _ out: inout String) {
        let nl = indent == nil ? "" : "\n"
        let pad = { (l: Int) in String(repeating: " ", count: (indent ?? 0) * l) }
        switch v {
        case .object(let m):
            if m.isEmpty { out += "{}"; return }
            out += "{" + nl
            for (i, kv) in m.enumerated() {
                out += pad(level + 1) + quote(kv.key) + (indent == nil ? ":" : ": ")
                emit(kv.value, indent, level + 1, &out)
                out += (i + 1 < m.count ? "," : "") + nl
            }
            out += pad(level) + "}"
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "[" + nl
            for (i, x) in a.enumerated() {
                out += pad(level + 1)
                emit(x, indent, level + 1, &out)
                out += (i + 1 < a.count ? "," : "") + nl
            }
            out += pad(level) + "]"
        case .string(let s): out += quote(s)
        case .number(let d, let text):
            if d.isFinite && d == d.rounded() && abs(d) < 9.007e15 {
                out += String(Int64(d))
            } else if d.isFinite {
                out += "\(d)"
            } else {
                out += "null"
            }
            _ = text
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// A JSON string literal. Also used for user strings in error messages, so C0 and C1
    /// control characters and DEL are escaped (`\u001b`): nothing reaches the terminal raw.
    public static func quote(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            default:
                if u.value < 0x20 || (u.value >= 0x7F && u.value < 0xA0) {
                    let hex = String(u.value, radix: 16)
                    r += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    r.unicodeScalars.append(u)
                }
            }
        }
        return r + "\""
    }
}

extension JSONValue {
    /// An integer number value.
    package static func int(_ v: Int) -> JSONValue { .number(Double(v), text: String(v)) }
    package static func uint(_ v: UInt64) -> JSONValue { .number(Double(v), text: String(v)) }
}

/// A bad config: which file, which field (a path like `steps[3].size`), what was expected.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    package var file: String
    package var path: String
    package var message: String
    package init(file: String, path: String, message: String) {
        self.file = file; self.path = path; self.message = message
    }
    /// One line: `FILE: PATH: MESSAGE`, with any control character that a file name or a
    /// key brought in escaped.
    public var description: String {
        oneLine(path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)")
    }
}

/// `s` with control characters (C0, DEL, C1), the line and paragraph separators and the
/// bidirectional formatting characters escaped as `\n`, `\t` or `\u{…}`, so that free text
/// (a config's `name`, a file name, a sweep label) prints as one line, sends nothing to the
/// terminal and cannot reorder what follows it. Other Unicode passes unchanged.
public func oneLine(_ s: String) -> String {
    guard s.unicodeScalars.contains(where: needsEscape) else { return s }
    var out = ""
    for u in s.unicodeScalars {
        switch u.value {
        case 0x0A: out += "\\n"
        case 0x09: out += "\\t"
        case 0x0D: out += "\\r"
        default:
            if needsEscape(u) { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
        }
    }
    return out
}

private func needsEscape(_ u: Unicode.Scalar) -> Bool {
    switch u.value {
    case 0..<0x20, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: true
    default: false
    }
}
