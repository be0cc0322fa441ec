import Foundation
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// Seeded random explorer configs: two or three threads of one to three operations each on a
/// shared 64 KiB region (order-0 or 16K/64K folios), over a parent that may have forked, with
/// writes, reads, forks, exits, GUP and GUP-fast pins and unpins, vmsplice, DONTNEED,
/// PAGEOUT, mprotect, munmap and mremap; `after` reads the region and checks the pins. Each is
/// written as the text of a config, so it is decoded and validated like a user's.
enum ProgramGenerator {
    struct LCG {
        var x: UInt64
        mutating func next(_ n: Int) -> Int {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return Int((x >> 33) % UInt64(n))
        }
    }

    static func text(seed: UInt64) -> String {
        var rng = LCG(x: seed &* 0x9E37_79B9_7F4A_7C15)
        let presets = ["v6.18", "v6.18", "v6.8", "v5.19", "v5.11", "v5.9", "v6.2"]
        let preset = presets[rng.next(presets.count)]
        let thp = [#""#, #"thp: { sizes: { "64K": "always" } },"#, #"thp: { sizes: { "16K": "always" } },"#][rng.next(3)]
        let base: UInt64 = 0x10000
        func addr(_ page: Int) -> String { "\"0x\(String(base + UInt64(page) << 12, radix: 16))\"" }
        var steps = [#"{ op: "mmap", proc: "A", addr: "0x10000", size: "64K", prot: "rw", map: "private-anon" }"#,
                     #"{ op: "write", proc: "A", addr: "0x10000", size: "64K", value: 1 }"#]
        let forked = rng.next(2) == 0
        if forked { steps.append(#"{ op: "fork", proc: "A", child: "B" }"#) }
        if rng.next(3) == 0 { steps.append(#"{ op: "pin", proc: "A", addr: "0x30000", id: "warm", flags: ["longterm"] }"#) }
        let nThreads = 2 + rng.next(2)
        var threads: [String] = []
        var pins: [String] = []
        var exited = false
        var value = 2
        for k in 0..<nThreads {
            var ops: [String] = []
            for _ in 0..<(1 + rng.next(3)) {
                let page = rng.next(16)
                value += 1
                switch rng.next(12) {
                case 0, 1, 2: ops.append("{ op: \"write\", proc: \"A\", addr: \(addr(page)), value: \(value) }")
                case 3: ops.append("{ op: \"read\", proc: \"A\", addr: \(addr(page)) }")
                case 4:
                    let id = "p\(k)\(ops.count)"
                    let flags = [#"["longterm"]"#, #"["fast", "longterm"]"#, #"["fast", "longterm", "write"]"#, #"["write"]"#][rng.next(4)]
                    ops.append("{ op: \"pin\", proc: \"A\", addr: \(addr(page)), id: \"\(id)\", flags: \(flags) }")
                    if rng.next(2) == 0 { ops.append("{ op: \"unpin\", id: \"\(id)\" }") } else { pins.append(id) }
                case 5: ops.append("{ op: \"madvise\", proc: \"A\", addr: \(addr(page)), size: \"4K\", advice: \"dontneed\" }")
                case 6: ops.append("{ op: \"madvise\", proc: \"A\", addr: \(addr(page & ~3)), size: \"16K\", advice: \"pageout\" }")
                case 7:
                    ops.append("{ op: \"mprotect\", proc: \"A\", addr: \(addr(page)), size: \"4K\", prot: \"r\" }")
                    ops.append("{ op: \"mprotect\", proc: \"A\", addr: \(addr(page)), size: \"4K\", prot: \"rw\" }")
                case 8 where forked && !exited:
                    ops.append(#"{ op: "exit", proc: "B" }"#)
                    exited = true
                case 8: ops.append("{ op: \"write\", proc: \"A\", addr: \(addr(page)), value: \(value) }")
                case 9: ops.append("{ op: \"vmsplice\", proc: \"A\", addr: \(addr(page)), pipe: \"pipe\(k)\" }")
                case 10 where rng.next(2) == 0: ops.append("{ op: \"munmap\", proc: \"A\", addr: \(addr(12)), size: \"16K\" }")
                case 10: ops.append("{ op: \"mremap\", proc: \"A\", addr: \(addr(8)), size: \"16K\", to: \"0x200000\" }")
                default: ops.append("{ op: \"read\", proc: \"A\", addr: \(addr(page)), size: \"8K\" }")
                }
            }
            threads.append("T\(k): [ \(ops.joined(separator: ", ")) ]")
        }
        var after = [#"{ op: "read", proc: "A", addr: "0x10000", size: "32K" }"#]
        for id in pins { after.append("{ op: \"checkPin\", id: \"\(id)\" }") }
        return """
        { memory: "8M", swap: "1M", semantics: "\(preset)", \(thp)
          steps: [ \(steps.joined(separator: ", ")) ],
          threads: { \(threads.joined(separator: ", ")) },
          after: [ \(after.joined(separator: ", ")) ] }
        """
    }

    /// The program of `seed`, decoded (nil if the generator wrote a config the decoder
    /// refuses, e.g. two threads that touch one pin).
    static func scenario(seed: UInt64) -> Scenario? {
        try? Scenario.decode(text: text(seed: seed), file: "generated-\(seed).json5")
    }
}
