import FolioSimModel

/// `PerfTrace.parse` over bytes, for text that is plain ASCII without carriage returns (what
/// `perf script` writes). Page-fault lines, most of a trace, are read here byte by byte;
/// every other line goes through `parse`'s own readers. The result is `parse`'s:
/// the same events, counts and errors (on ASCII text without `\r` a `Character` is one
/// byte, so splitting, trimming and searching by bytes is searching by characters).
extension PerfTrace {
    /// Nil when `text` is not plain ASCII without `\r`: `parse` reads it as a `String`.
    static func parseASCII(_ text: String) throws(TraceError) -> PerfTrace? {
        let b = Array(text.utf8)
        for c in b where c >= 0x80 || c == 0x0D { return nil }
        var t = PerfTrace()
        var pendingMremap: [Int32: PendingMremap] = [:]
        var lineNo = 0
        var start = 0
        while start <= b.count {
            var end = start
            while end < b.count && b[end] != 0x0A { end += 1 }
            defer { start = end + 1 }
            lineNo += 1
            var lo = start, hi = end
            while lo < hi && (b[lo] == 0x20 || b[lo] == 0x09) { lo += 1 }
            while hi > lo && (b[hi - 1] == 0x20 || b[hi - 1] == 0x09) { hi -= 1 }
            if lo == hi { continue }
            t.lines += 1
            let line = ByteLine(bytes: b, lo: lo, hi: hi)
            guard let pid = line.pid() else { t.skipped += 1; continue }
            // A line `readMapping` would take has PERF_RECORD_ in it: only the others can be
            // faults read here.
            if !line.contains("PERF_RECORD_"), line.contains("exceptions:page_fault_"),
               line.contains("exceptions:page_fault_user:") || line.contains("exceptions:page_fault_kernel:") {
                guard let addr = line.hexField("address="), let code = line.hexField("error_code=") else {
                    throw TraceError(line: lineNo, message: "a page fault without address= and error_code=")
                }
                if addr < Geometry.taskSize {
                    t.events.append(.fault(pid: pid, addr: addr & ~(Geometry.pageSize - 1), write: code & 0x2 != 0))
                } else {
                    t.skipped += 1
                }
                continue
            }
            let s = line.string
            if try t.readMapping(s, pid: pid, lineNo: lineNo) { continue }
            if try t.readFault(s, pid: pid, lineNo: lineNo) { continue }
            if try t.readSyscall(s, pid: pid, lineNo: lineNo, pendingMremap: &pendingMremap) { continue }
            if try t.readTaskEvent(s, pid: pid, lineNo: lineNo) { continue }
            t.skipped += 1
        }
        t.dropOutsideUserSpace()
        return t
    }
}

/// One trimmed line of an ASCII trace: `bytes[lo..<hi]`.
private struct ByteLine {
    let bytes: [UInt8]
    let lo: Int
    let hi: Int

    var string: String { String(decoding: bytes[lo..<hi], as: UTF8.self) }

    /// Where `key` first starts, or nil.
    func find(_ key: StaticString) -> Int? {
        let n = key.utf8CodeUnitCount
        guard n > 0, hi - lo >= n else { return nil }
        let k = key.utf8Start
        var i = lo
        while i <= hi - n {
            if bytes[i] == k[0] {
                var j = 1
                while j < n && bytes[i + j] == k[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    func contains(_ key: StaticString) -> Bool { find(key) != nil }

    /// `PerfTrace.pid`: of the first four space-separated fields, the first that is two
    /// integers joined by `/` (empty parts left out, as `split` does), its first integer.
    func pid() -> Int32? {
        var i = lo, fields = 0
        while i < hi && fields < 4 {
            while i < hi && bytes[i] == 0x20 { i += 1 }
            guard i < hi else { break }
            var e = i
            while e < hi && bytes[e] != 0x20 { e += 1 }
            fields += 1
            var parts: [(Int, Int)] = []
            var p = i
            while p < e {
                var q = p
                while q < e && bytes[q] != 0x2F { q += 1 }
                if q > p { parts.append((p, q)) }
                p = q + 1
            }
            if parts.count == 2, let a = int32(parts[0].0, parts[0].1), int32(parts[1].0, parts[1].1) != nil { return a }
            i = e
        }
        return nil
    }

    /// `Int32(String)`: an optional sign, then one or more decimal digits, in range.
    private func int32(_ from: Int, _ to: Int) -> Int32? {
        var i = from
        var negative = false
        if i < to && (bytes[i] == 0x2B || bytes[i] == 0x2D) { negative = bytes[i] == 0x2D; i += 1 }
        guard i < to else { return nil }
        var v: Int64 = 0
        while i < to {
            let d = bytes[i] &- 0x30
            guard d < 10 else { return nil }
            v = v * 10 + Int64(d)
            if v > Int64(Int32.max) + 1 { return nil }
            i += 1
        }
        return Int32(exactly: negative ? -v : v)
    }

    /// `PerfTrace.hexField`: the hex digits and `x`s right after the first `key`, read as a
    /// hex number after an optional `0x`.
    func hexField(_ key: StaticString) -> UInt64? {
        guard let at = find(key) else { return nil }
        var i = at + key.utf8CodeUnitCount
        var e = i
        while e < hi && (hexDigit(bytes[e]) != nil || bytes[e] == 0x78) { e += 1 }
        if e - i >= 2 && bytes[i] == 0x30 && bytes[i + 1] == 0x78 { i += 2 }
        guard i < e else { return nil }
        var v: UInt64 = 0
        while i < e {
            guard let d = hexDigit(bytes[i]) else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 16)
            let (a, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return v
    }

    private func hexDigit(_ c: UInt8) -> UInt64? {
        switch c {
        case 0x30...0x39: UInt64(c - 0x30)
        case 0x41...0x46: UInt64(c - 0x41 + 10)
        case 0x61...0x66: UInt64(c - 0x61 + 10)
        default: nil
        }
    }
}
