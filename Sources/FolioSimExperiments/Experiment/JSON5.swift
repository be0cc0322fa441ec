import FolioSimModel
import FolioSimExplore

/// A syntax error with its line and column (1-based).
package struct JSON5SyntaxError: Error, Equatable, Sendable {
    package var line: Int
    package var column: Int
    package var message: String
}

/// A JSON5 parser (comments, trailing commas, unquoted keys, single quotes, hex numbers,
/// leading/trailing decimal points, +/-Infinity and NaN). Foundation's `JSONDecoder` accepts
/// JSON5 too but reports neither the position of a syntax error nor unknown keys, and
/// configs need both.
package struct JSON5Parser {
    private let bytes: [UInt8]
    private var pos = 0
    private var depth = 0
    /// Objects and arrays nest at most this deep; a config needs five levels.
    package static let maxDepth = 64

    package init(_ text: String) { bytes = Array(text.utf8) }

    package static func parse(_ text: String) throws(JSON5SyntaxError) -> JSONValue {
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

