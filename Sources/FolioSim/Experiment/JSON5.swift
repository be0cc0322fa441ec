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
    public var kindName: String {
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

/// A syntax error with its line and column (1-based).
public struct JSON5SyntaxError: Error, Equatable, Sendable {
    public var line: Int
    public var column: Int
    public var message: String
}

/// A JSON5 parser (comments, trailing commas, unquoted keys, single quotes, hex numbers,
/// leading/trailing decimal points, +/-Infinity and NaN). Foundation's `JSONDecoder` accepts
/// JSON5 too but reports neither the position of a syntax error nor unknown keys, and
/// configs need both.
public struct JSON5Parser {
    private let bytes: [UInt8]
    private var pos = 0
    private var depth = 0
    /// Objects and arrays nest at most this deep; a config needs five levels.
    public static let maxDepth = 64

    public init(_ text: String) { bytes = Array(text.utf8) }

    public static func parse(_ text: String) throws(JSON5SyntaxError) -> JSONValue {
        var p = JSON5Parser(text)
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        if p.pos < p.bytes.count { throw p.error("unexpected text after the top-level value") }
        return v
    }

    private func error(_ message: String) -> JSON5SyntaxError {
        var line = 1, col = 1
        for b in bytes[0..<min(pos, bytes.count)] {
            if b == UInt8(ascii: "\n") { line += 1; col = 1 } else if b & 0xC0 != 0x80 { col += 1 }
        }
        return JSON5SyntaxError(line: line, column: col, message: message)
    }

    private var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }

    private mutating func skipSpace() {
        while let c = peek {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C {
                pos += 1
            } else if c == UInt8(ascii: "/") && pos + 1 < bytes.count && bytes[pos + 1] == UInt8(ascii: "/") {
                while let d = peek, d != 0x0A { pos += 1; _ = d }
            } else if c == UInt8(ascii: "/") && pos + 1 < bytes.count && bytes[pos + 1] == UInt8(ascii: "*") {
                pos += 2
                while pos + 1 < bytes.count && !(bytes[pos] == UInt8(ascii: "*") && bytes[pos + 1] == UInt8(ascii: "/")) { pos += 1 }
                pos = min(pos + 2, bytes.count)
            } else if c == 0xC2 && pos + 1 < bytes.count && bytes[pos + 1] == 0xA0 {
                pos += 2
            } else if c == 0xEF && pos + 2 < bytes.count && bytes[pos + 1] == 0xBB && bytes[pos + 2] == 0xBF {
                pos += 3
            } else {
                return
            }
        }
    }

    private mutating func value() throws(JSON5SyntaxError) -> JSONValue {
        guard let c = peek else { throw error("unexpected end of input, expected a value") }
        switch c {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""), UInt8(ascii: "'"): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            if c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: "I")
                || c == UInt8(ascii: "N") || (c >= 0x30 && c <= 0x39) {
                return try number()
            }
            throw error("unexpected character \(JSONWriter.quote(String(decoding: [c], as: UTF8.self))), expected a value")
        }
    }

    private mutating func literal(_ word: String) throws(JSON5SyntaxError) {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
            throw error("unknown word, expected a value")
        }
        pos += w.count
    }

    private mutating func enter() throws(JSON5SyntaxError) {
        depth += 1
        if depth > Self.maxDepth { throw error("objects and arrays nest deeper than \(Self.maxDepth) levels") }
    }

    private mutating func object() throws(JSON5SyntaxError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        var keys = Set<String>()
        while true {
            skipSpace()
            guard let c = peek else { throw error("unexpected end of input inside an object, expected '}'") }
            if c == UInt8(ascii: "}") { pos += 1; return .object(members) }
            let key: String
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                key = try string()
            } else {
                key = try identifier()
            }
            guard keys.insert(key).inserted else { throw error("duplicate key \(JSONWriter.quote(key))") }
            skipSpace()
            guard peek == UInt8(ascii: ":") else { throw error("expected ':' after key \(JSONWriter.quote(key))") }
            pos += 1
            skipSpace()
            members.append((key, try value()))
            skipSpace()
            if peek == UInt8(ascii: ",") { pos += 1; continue }
            if peek == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw error("expected ',' or '}' in an object")
        }
    }

    private mutating func identifier() throws(JSON5SyntaxError) -> String {
        let start = pos
        while let c = peek, c == UInt8(ascii: "_") || c == UInt8(ascii: "$") || (c >= 0x30 && c <= 0x39)
                || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z")) || c >= 0x80 {
            pos += 1
        }
        guard pos > start else { throw error("expected a key (a name or a quoted string)") }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    private mutating func array() throws(JSON5SyntaxError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var items: [JSONValue] = []
        while true {
            skipSpace()
            guard let c = peek else { throw error("unexpected end of input inside an array, expected ']'") }
            if c == UInt8(ascii: "]") { pos += 1; return .array(items) }
            items.append(try value())
            skipSpace()
            if peek == UInt8(ascii: ",") { pos += 1; continue }
            if peek == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw error("expected ',' or ']' in an array")
        }
    }

    private mutating func string() throws(JSON5SyntaxError) -> String {
        let quote = bytes[pos]
        pos += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw error("unterminated string") }
            pos += 1
            if c == quote { return String(decoding: out, as: UTF8.self) }
            if c == 0x0A { throw error("line break inside a string") }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard let e = peek else { throw error("unterminated string") }
            pos += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "0"): out.append(0)
            case 0x0A: break
            case UInt8(ascii: "u"):
                guard pos + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(v) else { throw error("bad \\u escape") }
                pos += 4
                out += Array(String(Character(scalar)).utf8)
            default: out.append(e)
            }
        }
    }

    private mutating func number() throws(JSON5SyntaxError) -> JSONValue {
        let start = pos
        var sign = 1.0
        if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
            if peek == UInt8(ascii: "-") { sign = -1 }
            pos += 1
        }
        if peek == UInt8(ascii: "I") {
            try literal("Infinity")
            return .number(sign * .infinity, text: String(decoding: bytes[start..<pos], as: UTF8.self))
        }
        if peek == UInt8(ascii: "N") {
            try literal("NaN")
            return .number(.nan, text: "NaN")
        }
        if peek == UInt8(ascii: "0") && pos + 1 < bytes.count && (bytes[pos + 1] | 0x20) == UInt8(ascii: "x") {
            pos += 2
            let digitsStart = pos
            while let c = peek, (c >= 0x30 && c <= 0x39) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "f")) { pos += 1 }
            guard pos > digitsStart, let v = UInt64(String(decoding: bytes[digitsStart..<pos], as: UTF8.self), radix: 16) else {
                throw error("bad hexadecimal number")
            }
            return .number(sign * Double(v), text: String(decoding: bytes[start..<pos], as: UTF8.self))
        }
        while let c = peek, (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
                || c == UInt8(ascii: "E") || ((c == UInt8(ascii: "+") || c == UInt8(ascii: "-")) && (bytes[pos - 1] | 0x20) == UInt8(ascii: "e")) {
            pos += 1
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        guard let v = Double(text.hasPrefix("+") ? String(text.dropFirst()) : text) ?? Double("0" + text) else {
            throw error("bad number '\(text)'")
        }
        return .number(v, text: text)
    }
}

/// Writes JSON with keys in the order given: byte-identical output for identical values.
public enum JSONWriter {
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
    public static func int(_ v: Int) -> JSONValue { .number(Double(v), text: String(v)) }
    public static func uint(_ v: UInt64) -> JSONValue { .number(Double(v), text: String(v)) }
}
