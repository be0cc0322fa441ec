import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The explorer's hash table against `Dictionary`, over seeded random inserts, updates and
/// deletions that collide (few distinct keys, many probe runs) and grow the table.
@Suite(.enabled(if: Tier.fast)) struct U64TableTests {
    @Test(arguments: [16, 200, 5000])
    func agreesWithDictionary(_ keySpace: Int) {
        var rng = SplitMix64(seed: UInt64(keySpace))
        var table = U64Table<Int>()
        var dict: [UInt64: Int] = [:]
        for step in 0..<20_000 {
            let k = rng.next() % UInt64(keySpace) &* 0x1_0000_0001
            switch rng.next() % 4 {
            case 0:
                table[k] = nil
                dict[k] = nil
            case 1:
                table[k] = (table[k] ?? 0) + 1
                dict[k, default: 0] += 1
            default:
                table[k] = step
                dict[k] = step
            }
            #expect(table[k] == dict[k])
        }
        #expect(table.count == dict.count)
        #expect(table.sortedKeys == dict.keys.sorted())
        for (k, v) in dict { #expect(table[k] == v) }
        table.removeAll()
        #expect(table.count == 0 && table.sortedKeys.isEmpty)
    }
}
