import FolioSimModel
import FolioSimExplore
import FolioSimExperiments
import Foundation

let cowSelftestUsage = """
usage: foliosim cow-selftest [--semantics NAME] [--sizes 16K,64K,2M] [--json]
       foliosim cow-selftest --history [--sizes …] [--json | --markdown]

Replays the kernel's COW selftest (tools/testing/selftests/mm/cow.c of 6.18) under a rule
set and prints its TAP output: the kernel's test cases in its order and numbering, every
memory type FolioSim models, and the closing totals. hugetlb and MADV_COLLAPSE are not
modelled; their rows skip with that reason.
  --semantics NAME  \(semanticsHelp)
                    (default v6.18)
  --sizes LIST      THP sizes to test, e.g. 16K,64K,2M (default: every size of the rule set;
                    before v6.8 only 2M exists; --history leaves out what a preset lacks)
  --history         run every preset and print test case × preset: passed/failed counts
  --markdown        with --history: the table as Markdown (as in Experiments/history.md)
  --json            print one JSON object instead of TAP (with --history: the table)
Exit status: 0 every test passed, skipped or failed as expected (with --history: always 0
unless the arguments are bad), 1 a test failed, 2 bad arguments.
"""

extension FolioSimCLI {
    static func cowSelftestCommand(_ args: [String]) async {
        var semantics = "v6.18", sizes: [UInt64]?, history = false, json = false, markdown = false
        var i = 0
        func value(_ name: String) -> String {
            guard i + 1 < args.count else { fail("cow-selftest: \(name) expects a value") }
            i += 1
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--help", "-h": print(cowSelftestUsage); exit(0)
            case "--json": json = true
            case "--history": history = true
            case "--markdown": markdown = true
            case "--semantics":
                semantics = value(a)
                guard Semantics.preset(named: semantics) != nil else {
                    fail("cow-selftest: --semantics expects one of \(Semantics.presets.map(\.name).joined(separator: ", ")), found \(JSONWriter.quote(semantics))")
                }
            case "--sizes":
                let list = value(a)
                var out: [UInt64] = []
                for part in list.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let b = parseSize(String(part)), THPSettings.order(forSize: b) != nil else {
                        fail("cow-selftest: --sizes expects THP sizes from 16K to 2M separated by commas, found \(JSONWriter.quote(String(part)))")
                    }
                    out.append(b)
                }
                sizes = out
            default:
                fail("cow-selftest: unknown argument \(JSONWriter.quote(a)) (see foliosim cow-selftest --help)")
            }
            i += 1
        }
        if markdown && !history { fail("cow-selftest: --markdown needs --history") }
        if markdown && json { fail("cow-selftest: --markdown and --json exclude each other") }
        if history {
            let h = await CowHistory.run(sizes: sizes)
            if json { print(JSONWriter.write(h.json)) } else { print(markdown ? h.markdown : h.text, terminator: "") }
            exit(0)
        }
        let available = CowSelftest.availableSizes(Semantics.preset(named: semantics)!)
        if let bad = sizes?.first(where: { !available.contains($0) }) {
            fail("cow-selftest: --sizes: \(formatSize(bad)) THPs do not exist under \(semantics) (sizes there: \(available.map { formatSize($0) }.joined(separator: ", ")))")
        }
        let report = await CowSelftest.run(semanticsName: semantics, semantics: Semantics.preset(named: semantics)!, sizes: sizes)
        if json {
            print(JSONWriter.write(CowHistory.json(report)))
        } else {
            for l in report.tap { print(l) }
        }
        exit(report.exitStatus)
    }
}
