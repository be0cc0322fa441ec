import FolioSimModel
import FolioSimExplore

/// Typed, path-aware access to the members of one config object. Every key must be read
/// (or named as allowed); `finish` rejects the rest as unknown fields.
struct Fields {
    let file: String
    let path: String
    let members: [(key: String, value: JSONValue)]
    private var used: Set<String> = []

    init(_ value: JSONValue, file: String, path: String) throws(ConfigError) {
        guard case .object(let m) = value else {
            throw ConfigError(file: file, path: path, message: "expected an object, found \(value.kindName)")
        }
        self.file = file; self.path = path; members = m
    }

    func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    func fail(_ key: String, _ message: String) -> ConfigError { ConfigError(file: file, path: sub(key), message: message) }

    mutating func raw(_ key: String) -> JSONValue? {
        used.insert(key)
        return members.first { $0.key == key }?.value
    }

    mutating func has(_ key: String) -> Bool { members.contains { $0.key == key } }

    mutating func string(_ key: String) throws(ConfigError) -> String? {
        guard let v = raw(key) else { return nil }
        guard case .string(let s) = v else { throw fail(key, "expected a string, found \(v.kindName)") }
        return s
    }
    mutating func requireString(_ key: String) throws(ConfigError) -> String {
        guard let s = try string(key) else { throw fail(key, "missing required field") }
        return s
    }

    /// The name of a process, pin or pipe (`kind`): `ConfigNames.isValid`.
    mutating func name(_ key: String, of kind: String) throws(ConfigError) -> String {
        let s = try requireString(key)
        guard ConfigNames.isValid(s) else { throw fail(key, ConfigNames.error(kind, s)) }
        return s
    }

    mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let v = raw(key) else { return nil }
        guard case .bool(let b) = v else { throw fail(key, "expected true or false, found \(v.kindName)") }
        return b
    }

    mutating func int(_ key: String, min: Int = Int.min) throws(ConfigError) -> Int? {
        guard let v = raw(key) else { return nil }
        guard case .number(let d, _) = v, d == d.rounded(), abs(d) < 9.0e15 else {
            throw fail(key, "expected an integer, found \(v.kindName)")
        }
        guard Int(d) >= min else { throw fail(key, "expected an integer >= \(min), found \(Int(d))") }
        return Int(d)
    }

    /// A size: "64K", "2M", "1G", "4096" or a number of bytes.
    mutating func size(_ key: String) throws(ConfigError) -> UInt64? {
        guard let v = raw(key) else { return nil }
        switch v {
        case .string(let s):
            guard let n = parseSize(s) else {
                throw fail(key, "expected a size such as \"4K\", \"64K\", \"2M\" or \"1G\", found \(JSONWriter.quote(s))")
            }
            return n
        case .number(let d, _):
            guard d >= 0, d == d.rounded(), d < 1.8e19 else { throw fail(key, "expected a non-negative whole number of bytes") }
            return UInt64(d)
        default:
            throw fail(key, "expected a size such as \"64K\" or \"2M\", found \(v.kindName)")
        }
    }
    /// A size that is a positive multiple of 4 KiB.
    mutating func pageSize(_ key: String, default def: UInt64? = nil) throws(ConfigError) -> UInt64 {
        guard let s = try size(key) ?? def else { throw fail(key, "missing required field") }
        guard s > 0, s % Geometry.pageSize == 0 else { throw fail(key, "expected a positive multiple of 4K, found \(s) bytes") }
        return s
    }

    /// An address: "0x40000000" or a number; page aligned unless `aligned` is false.
    mutating func address(_ key: String, aligned: Bool = true) throws(ConfigError) -> UInt64? {
        guard let v = raw(key) else { return nil }
        var a: UInt64?
        switch v {
        case .string(let s):
            let t = s.lowercased()
            let digits = t.hasPrefix("0x") ? t.dropFirst(2) : Substring(t)
            let hex = digits.count < t.count
            if !digits.isEmpty && digits.allSatisfy({ $0.isASCII && (hex ? $0.isHexDigit : $0.isNumber) }) {
                a = hex ? UInt64(digits, radix: 16) : UInt64(digits)
            }
            if a == nil { throw fail(key, "expected an address such as \"0x40000000\", found \(JSONWriter.quote(s))") }
        case .number(let d, _):
            guard d >= 0, d == d.rounded(), d < 1.8e19 else { throw fail(key, "expected a non-negative address") }
            a = UInt64(d)
        default:
            throw fail(key, "expected an address such as \"0x40000000\", found \(v.kindName)")
        }
        guard let addr = a else { return nil }
        if aligned && addr % Geometry.pageSize != 0 { throw fail(key, "expected a 4K-aligned address, found 0x\(String(addr, radix: 16))") }
        guard addr < Geometry.taskSize else { throw fail(key, "address 0x\(String(addr, radix: 16)) is beyond the 47-bit user address space") }
        return addr
    }
    mutating func requireAddress(_ key: String) throws(ConfigError) -> UInt64 {
        guard let a = try address(key) else { throw fail(key, "missing required field") }
        return a
    }

    /// One of the raw values of `E`.
    mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(ConfigError) -> E? where E.RawValue == String {
        guard let s = try string(key) else { return nil }
        guard let e = E(rawValue: s) else {
            throw fail(key, "expected one of \(E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), found \(JSONWriter.quote(s))")
        }
        return e
    }

    mutating func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let v = raw(key) else { return nil }
        guard case .array(let items) = v else { throw fail(key, "expected an array of strings, found \(v.kindName)") }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else {
                throw ConfigError(file: file, path: "\(sub(key))[\(i)]", message: "expected a string, found \(item.kindName)")
            }
            out.append(s)
        }
        return out
    }

    /// Rejects keys that were not read.
    func finish(allowed extra: [String] = []) throws(ConfigError) {
        for m in members where !used.contains(m.key) && !extra.contains(m.key) {
            let known = (Array(used) + extra).sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw fail(m.key, "unknown field (known here: \(known))")
        }
    }
}

/// Parses "64K", "2M", "1G", "512KiB", "4096" into bytes.
public func parseSize(_ text: String) -> UInt64? {
    var s = text.filter { $0 != " " && $0 != "\t" }.uppercased()
    if s.hasSuffix("IB") { s.removeLast(2) } else if s.hasSuffix("B") { s.removeLast() }
    var mult: UInt64 = 1
    if let last = s.last, let m = ["K": UInt64(1) << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40][String(last)] {
        mult = m
        s.removeLast()
    }
    guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(s) else { return nil }
    let (r, o) = n.multipliedReportingOverflow(by: mult)
    return o ? nil : r
}


/// Names of processes, threads, pins and pipes: printed raw in reports, traces and
/// schedules, so they are 1 to 64 ASCII letters, digits, `_`, `.`, `-` or `:` (no control
/// character or escape sequence reaches a terminal through them).
enum ConfigNames {
    static func isValid(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: ":")
        }
    }

    static func error(_ kind: String, _ s: String) -> String {
        "a \(kind) name is 1 to 64 letters, digits, '_', '.', '-' or ':', found \(JSONWriter.quote(s))"
    }
}
