/// Which mainline releases had each value of the rule switches S1–S8 (KERNEL.md §8), so that
/// a config that sets switches can be told when no kernel ever combined its values. Releases
/// are numbered major × 100 + minor (5.0–5.19, 6.0–6.18); "≤5.8" starts at 5.0, which stands
/// for every older kernel too. Proposals, injected bugs and the switches outside S1–S8
/// (`cowCopy`, `rangeReuse`, `pinnedSwapout`, `vmaLocks`, `vmaLockFaults`, `hugeZeroWPAllocatesTHP`) are
/// meant to be flipped and are not dated here.
package enum SemanticsEras {
    /// The mainline releases this table knows, oldest first.
    package static let releases: [Int] = Array(500...519) + Array(600...618)

    /// One switch's value in a rule set, with the releases that had it.
    package struct Value: Sendable {
        /// The config field (`anonReuse`, `roPin`, …).
        package var field: String
        /// The value as a config writes it.
        package var value: String
        /// Sorted releases that had this value.
        package var releases: [Int]
    }

    /// S1–S8 of `s`, in §8's order.
    package static func values(of s: Semantics) -> [Value] {
        [
            Value(field: "anonReuse", value: s.anonReuse.rawValue, releases: anonReuse(s.anonReuse)),
            Value(field: "roPin", value: s.roPin.rawValue, releases: roPin(s.roPin)),
            Value(field: "forkPinned", value: s.forkPinned.rawValue, releases: forkPinned(s.forkPinned)),
            Value(field: "gupFastFork", value: s.gupFastFork.rawValue, releases: s.gupFastFork == .noSeq ? span(500, 510) : span(511, 618)),
            Value(field: "exclusiveCarry", value: s.exclusiveCarry.rawValue, releases: s.exclusiveCarry == .none ? span(500, 518) : span(519, 618)),
            Value(field: "mprotectUpgrade", value: s.mprotectUpgrade.rawValue, releases: mprotectUpgrade(s.mprotectUpgrade)),
            Value(field: "forceWrite", value: s.forceWrite.rawValue, releases: s.forceWrite == .follCOW ? span(500, 519) : span(600, 618)),
            Value(field: "faultOrder", value: s.faultOrder.rawValue, releases: s.faultOrder == .order0PMD ? span(500, 607) : span(608, 618)),
        ]
    }

    /// The releases whose S1–S8 are exactly those of `s` (empty: no kernel had them).
    package static func kernels(with s: Semantics) -> [Int] {
        values(of: s).reduce(releases) { have, v in have.filter { v.releases.contains($0) } }
    }

    /// Two switch values of `s` that no release had together, preferring a pair with a
    /// switch named in `changed` (the ones a config set); nil if some kernel had them all or
    /// only three or more conflict together.
    package static func conflict(in s: Semantics, changed: Set<String>) -> (Value, Value)? {
        let vs = values(of: s)
        var pairs: [(Value, Value)] = []
        for i in vs.indices { for j in vs.indices where j > i && !vs[i].releases.contains(where: vs[j].releases.contains) { pairs.append((vs[i], vs[j])) } }
        return pairs.first { changed.contains($0.0.field) || changed.contains($0.1.field) } ?? pairs.first
    }

    /// `releases` as ranges: "≤5.8", "5.9–5.18", "6.15+", "5.0–5.7, 5.9–5.18".
    package static func describe(_ rs: [Int]) -> String {
        var parts: [String] = []
        var k = 0
        while k < rs.count {
            var e = k
            while e + 1 < rs.count && releases.firstIndex(of: rs[e + 1]) == releases.firstIndex(of: rs[e])! + 1 { e += 1 }
            let (lo, hi) = (rs[k], rs[e])
            parts.append(lo == releases.first! && hi != releases.last! ? "≤\(name(hi))"
                         : hi == releases.last! && lo != releases.first! ? "\(name(lo))+"
                         : lo == hi ? name(lo) : "\(name(lo))–\(name(hi))")
            k = e + 1
        }
        return parts.joined(separator: ", ")
    }

    static func name(_ r: Int) -> String { "\(r / 100).\(r % 100)" }

    static func span(_ lo: Int, _ hi: Int) -> [Int] { releases.filter { $0 >= lo && $0 <= hi } }

    /// S1: ≤5.8 mapcount (09854ba94c6a, 5.9, made it refcount), 5.19 AE ("COW fixes part 2"),
    /// 6.15 MM-ID large-folio reuse (1da190f4d0a6).
    static func anonReuse(_ v: Semantics.AnonReuse) -> [Int] {
        switch v {
        case .mapcount: span(500, 508)
        case .refcount: span(509, 518)
        case .ae: span(519, 614)
        case .aeMMID: span(615, 618)
        }
    }

    /// S2: the forced COW of 17839856fd58 was in 5.8 and the 5.7.3 stable release, and was
    /// removed again in 5.9 (a308c71bf1e6); 5.19 unshares anon pages, 6.2 also non-anon ones.
    static func roPin(_ v: Semantics.ROPinRule) -> [Int] {
        switch v {
        case .none: span(500, 507) + span(509, 518)
        case .forceCOW: span(507, 508)
        case .unshareAnon: span(519, 601)
        case .unshareCOWLongterm: span(602, 618)
        }
    }

    /// S3: early COW of maybe-pinned pages at fork from 5.9 (70e806e4e645), AE-only from 5.19.
    static func forkPinned(_ v: Semantics.ForkPinned) -> [Int] {
        switch v {
        case .share: span(500, 508)
        case .earlyCOW: span(509, 518)
        case .earlyCOWAE: span(519, 618)
        }
    }

    /// S6: dirty exclusive anon PTEs upgraded from 6.0 (64fe24a3e05e), clean ones from 6.2
    /// (d84887739d5c).
    static func mprotectUpgrade(_ v: Semantics.MprotectUpgrade) -> [Int] {
        switch v {
        case .never: span(500, 519)
        case .dirtyAE: span(600, 601)
        case .ae: span(602, 618)
        }
    }
}
