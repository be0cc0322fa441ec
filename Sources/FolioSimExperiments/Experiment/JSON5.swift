import FolioSimModel
import FolioSimExplore

/// A syntax error with its line and column (1-based).
package struct JSON5SyntaxError: Error, Equatable, Sendable {
    package var line: Int
    package var column: Int
    package var message: String
}

/// A JSON5 parser that follows the JSON5 1.0.0 grammar (comments, trailing commas,
/// identifier keys, single quotes, JSON5's string escapes, hex numbers, leading/trailing
/// decimal points, +/-Infinity and NaN) and refuses what it does not allow (leading zeros,
/// a lone `.`, an unterminated comment, lone surrogates), with the line and column. Two
/// deliberate departures, both refusals: a duplicate key is an error (JSON5 keeps the last),
/// and a lone UTF-16 surrogate, which a Swift string cannot hold. Foundation's `JSONDecoder`
/// accepts JSON5 too but reports neither the position of a syntax error nor unknown keys,
/// and configs need both.
package struct JSON5Parser {
    private let bytes: [UInt8]
    private var pos = 0
    private var depth = 0
    /// Objects and arrays nest at most this deep; a config needs five levels.
    package static let maxDepth = 64

    package init(_ text: String) { bytes = Array(text.utf8) }

    package static func parse(_ text: String) throws(JSON5SyntaxError) -> JSONValue {
        var p = JSON5Parser(text)
        try p.skipSpace()
        let v = try p.value()
        try p.skipSpace()
        if p.pos < p.bytes.count { throw p.error("unexpected text after the top-level value") }
        return v
    }

    /// An error at `at` (the current position by default).
    private func error(_ message: String, at: Int? = nil) -> JSON5SyntaxError {
        var line = 1, col = 1
        for b in bytes[0..<min(at ?? pos, bytes.count)] {
            if b == UInt8(ascii: "\n") { line += 1; col = 1 } else if b & 0xC0 != 0x80 { col += 1 }
        }
        return JSON5SyntaxError(line: line, column: col, message: message)
    }

    private var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }

    /// Skips white space (JSON5's set: ASCII, NBSP, BOM, line and paragraph separators and
    /// the Unicode space separators) and comments; an unterminated block comment is an error.
    private mutating func skipSpace() throws(JSON5SyntaxError) {
        while let c = peek {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C {
                pos += 1
            } else if c == UInt8(ascii: "/") && pos + 1 < bytes.count && bytes[pos + 1] == UInt8(ascii: "/") {
                while let d = peek, d != 0x0A, d != 0x0D { pos += 1 }
            } else if c == UInt8(ascii: "/") && pos + 1 < bytes.count && bytes[pos + 1] == UInt8(ascii: "*") {
                let start = pos
                pos += 2
                while pos + 1 < bytes.count && !(bytes[pos] == UInt8(ascii: "*") && bytes[pos + 1] == UInt8(ascii: "/")) { pos += 1 }
                guard pos + 1 < bytes.count else {
                    pos = start
                    throw error("unterminated block comment: '/*' without '*/'")
                }
                pos += 2
            } else if let n = unicodeSpaceLength() {
                pos += n
            } else {
                return
            }
        }
    }

    /// The length in bytes of the non-ASCII white space at `pos`, if there is one: U+00A0,
    /// U+FEFF, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
    private func unicodeSpaceLength() -> Int? {
        guard let c = peek, c >= 0xC2 else { return nil }
        if c == 0xC2 { return pos + 1 < bytes.count && bytes[pos + 1] == 0xA0 ? 2 : nil }
        guard pos + 2 < bytes.count else { return nil }
        let scalar = (UInt32(c & 0x0F) << 12) | (UInt32(bytes[pos + 1] & 0x3F) << 6) | UInt32(bytes[pos + 2] & 0x3F)
        guard c & 0xF0 == 0xE0 else { return nil }
        switch scalar {
        case 0xFEFF, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return 3
        default: return nil
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
            try skipSpace()
            guard let c = peek else { throw error("unexpected end of input inside an object, expected '}'") }
            if c == UInt8(ascii: "}") { pos += 1; return .object(members) }
            let key: String
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                key = try string()
            } else {
                key = try identifier()
            }
            guard keys.insert(key).inserted else { throw error("duplicate key \(JSONWriter.quote(key))") }
            try skipSpace()
            guard peek == UInt8(ascii: ":") else { throw error("expected ':' after key \(JSONWriter.quote(key))") }
            pos += 1
            try skipSpace()
            members.append((key, try value()))
            try skipSpace()
            if peek == UInt8(ascii: ",") { pos += 1; continue }
            if peek == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw error("expected ',' or '}' in an object")
        }
    }

    /// An unquoted key: a JSON5 identifier (ECMAScript IdentifierName without escapes): a
    /// letter, `$` or `_`, then letters, digits, marks and connectors.
    private mutating func identifier() throws(JSON5SyntaxError) -> String {
        let start = pos
        while let (scalar, length) = scalarAtPos() {
            let p = scalar.properties
            let isStart = scalar == "$" || scalar == "_" || p.isAlphabetic
            let isPart = isStart || p.numericType != nil
                || [.nonspacingMark, .spacingMark, .connectorPunctuation].contains(p.generalCategory)
                || scalar.value == 0x200C || scalar.value == 0x200D
            guard pos == start ? isStart : isPart else { break }
            pos += length
        }
        guard pos > start else { throw error("expected a key (a name or a quoted string)") }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    /// The Unicode scalar that starts at `pos` and its length in bytes (nil at the end or on
    /// bytes that are not UTF-8, which a Swift `String` cannot hold anyway).
    private func scalarAtPos() -> (Unicode.Scalar, Int)? {
        guard let c = peek else { return nil }
        if c < 0x80 { return (Unicode.Scalar(c), 1) }
        let length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2
        guard pos + length <= bytes.count else { return nil }
        var it = bytes[pos..<pos + length].makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let s) = decoder.decode(&it) else { return nil }
        return (s, length)
    }

    private mutating func array() throws(JSON5SyntaxError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var items: [JSONValue] = []
        while true {
            try skipSpace()
            guard let c = peek else { throw error("unexpected end of input inside an array, expected ']'") }
            if c == UInt8(ascii: "]") { pos += 1; return .array(items) }
            items.append(try value())
            try skipSpace()
            if peek == UInt8(ascii: ",") { pos += 1; continue }
            if peek == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw error("expected ',' or ']' in an array")
        }
    }

    /// A single- or double-quoted string with JSON5's escapes: `\' \" \\ \b \f \n \r \t \v`,
    /// `\0` (not before a digit), `\xHH`, `\uHHHH` (a surrogate pair makes one character;
    /// a lone surrogate is an error, as a Swift string cannot hold it), a backslash before a
    /// line break (continuation), and any other character but a digit standing for itself.
    private mutating func string() throws(JSON5SyntaxError) -> String {
        let quote = bytes[pos]
        pos += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw error("unterminated string") }
            if c == 0x0A || c == 0x0D { throw error("line break inside a string (write \\n)") }
            pos += 1
            if c == quote { return String(decoding: out, as: UTF8.self) }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard let e = peek else { throw error("unterminated string") }
            let escape = pos - 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "0"):
                if pos + 1 < bytes.count, bytes[pos + 1] >= 0x30, bytes[pos + 1] <= 0x39 {
                    throw error("bad escape: \\0 before a digit (octal escapes are not JSON5)", at: escape)
                }
                out.append(0)
            case UInt8(ascii: "1")...UInt8(ascii: "9"): throw error("bad escape: a backslash before a digit", at: escape)
            case 0x0A: break
            case 0x0D: if pos + 1 < bytes.count && bytes[pos + 1] == 0x0A { pos += 1 }
            case UInt8(ascii: "x"):
                pos += 1
                out += Array(String(Character(Unicode.Scalar(UInt8(try hexDigits(2, "\\x", at: escape))))).utf8)
                continue
            case UInt8(ascii: "u"):
                pos += 1
                out += Array(String(Character(try unicodeEscape(at: escape))).utf8)
                continue
            default:
                if e == 0xE2, pos + 2 < bytes.count, bytes[pos + 1] == 0x80, bytes[pos + 2] == 0xA8 || bytes[pos + 2] == 0xA9 {
                    pos += 2
                } else {
                    out.append(e)
                }
            }
            pos += 1
        }
    }

    /// `count` hexadecimal digits at `pos` (after `escape`), consumed.
    private mutating func hexDigits(_ count: Int, _ escape: String, at: Int) throws(JSON5SyntaxError) -> UInt32 {
        guard pos + count <= bytes.count,
              bytes[pos..<pos + count].allSatisfy({ isHexDigit($0) }),
              let v = UInt32(String(decoding: bytes[pos..<pos + count], as: UTF8.self), radix: 16) else {
            throw error("bad \(escape) escape: expected \(count) hexadecimal digits", at: at)
        }
        pos += count
        return v
    }

    /// The scalar of a `\uHHHH` escape whose `\u` is consumed, joining a UTF-16 surrogate
    /// pair written as two escapes.
    private mutating func unicodeEscape(at start: Int) throws(JSON5SyntaxError) -> Unicode.Scalar {
        let high = try hexDigits(4, "\\u", at: start)
        if let s = Unicode.Scalar(high) { return s }
        guard high < 0xDC00, pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
            throw error("bad \\u escape: a lone UTF-16 surrogate (\\u\(String(high, radix: 16, uppercase: true)))", at: start)
        }
        pos += 2
        let low = try hexDigits(4, "\\u", at: start)
        guard (0xDC00...0xDFFF).contains(low), let s = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) else {
            throw error("bad \\u escape: a high surrogate not followed by a low one", at: start)
        }
        return s
    }

    private func isHexDigit(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "f"))
    }

    private func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

    /// A JSON5 number: an optional sign, then `Infinity`, `NaN`, a hexadecimal integer, or a
    /// decimal with no leading zeros, at least one digit before or after the point and an
    /// exponent with digits. Nothing that could continue a name may follow it.
    private mutating func number() throws(JSON5SyntaxError) -> JSONValue {
        let start = pos
        var sign = 1.0
        if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
            if peek == UInt8(ascii: "-") { sign = -1 }
            pos += 1
        }
        if peek == UInt8(ascii: "I") {
            try literal("Infinity")
            return try numberEnd(.number(sign * .infinity, text: String(decoding: bytes[start..<pos], as: UTF8.self)), start)
        }
        if peek == UInt8(ascii: "N") {
            try literal("NaN")
            return try numberEnd(.number(.nan, text: "NaN"), start)
        }
        if peek == UInt8(ascii: "0") && pos + 1 < bytes.count && (bytes[pos + 1] | 0x20) == UInt8(ascii: "x") {
            pos += 2
            let digitsStart = pos
            while let c = peek, isHexDigit(c) { pos += 1 }
            guard pos > digitsStart else { pos = start; throw error("bad hexadecimal number: no digits after 0x") }
            guard let v = UInt64(String(decoding: bytes[digitsStart..<pos], as: UTF8.self), radix: 16) else {
                pos = start
                throw error("hexadecimal number larger than 64 bits")
            }
            return try numberEnd(.number(sign * Double(v), text: String(decoding: bytes[start..<pos], as: UTF8.self)), start)
        }
        var digits = 0
        if peek == UInt8(ascii: "0") {
            pos += 1; digits += 1
            if isDigit(peek) { pos = start; throw error("bad number: a leading zero") }
        } else {
            while isDigit(peek) { pos += 1; digits += 1 }
        }
        if peek == UInt8(ascii: ".") {
            pos += 1
            while isDigit(peek) { pos += 1; digits += 1 }
        }
        guard digits > 0 else { pos = start; throw error("bad number: no digits") }
        if let e = peek, e | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(peek) else { pos = start; throw error("bad number: an exponent without digits") }
            while isDigit(peek) { pos += 1 }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        var parse = text.hasPrefix("+") ? String(text.dropFirst()) : text
        if parse.hasPrefix(".") { parse = "0" + parse } else if parse.hasPrefix("-.") { parse = "-0" + parse.dropFirst() }
        guard let v = Double(parse) else { pos = start; throw error("bad number \(JSONWriter.quote(text))") }
        return try numberEnd(.number(v, text: text), start)
    }

    /// JSON5 (as ECMAScript) forbids a digit or a name character right after a number.
    private mutating func numberEnd(_ v: JSONValue, _ start: Int) throws(JSON5SyntaxError) -> JSONValue {
        if let (scalar, _) = scalarAtPos(), scalar == "$" || scalar == "_" || scalar == "." || scalar.properties.isAlphabetic || isDigit(peek) {
            pos = start
            throw error("bad number: it runs into \(JSONWriter.quote(String(scalar)))")
        }
        return v
    }
}
