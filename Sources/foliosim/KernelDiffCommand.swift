import FolioSimModel
import FolioSimExplore
import FolioSimExperiments
import Foundation

let kernelDiffUsage = """
usage: foliosim kernel-diff FILE [--json] [--repeat N] [--semantics NAME]

Runs the config's `steps` as real system calls on this machine's kernel, one helper
process per simulated process (started by foliosim itself, pinned to one CPU), with the
config's THP and mTHP settings written to sysfs for the run and restored afterwards (also
on SIGINT and on error), runs them in FolioSim too, and prints every count side by side:
per step, the faults, anonymous RSS and COW-copied pages of the process that ran it, and
the system-wide mTHP counter deltas. Steps the host cannot run are listed as skipped.
Needs root and a writable /sys/kernel/mm/transparent_hugepage.
  --json            print one JSON object
  --repeat N        take N undisturbed host runs (default 1) and show their spread
  --semantics NAME  \(semanticsHelp)
Exit status: 0 every count agrees, 1 some count differs, 2 bad input, no root or no sysfs.
"""

extension FolioSimCLI {
    static func kernelDiffCommand(_ args: [String]) async {
        var json = false, repeats = 1
        var file: String?, semantics: String?
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            switch a {
            case "--help", "-h": print(kernelDiffUsage); exit(0)
            case "--json": json = true
            case "--repeat":
                guard i < args.count, let n = Int(args[i]), n >= 1, n <= 100 else {
                    fail("kernel-diff: --repeat expects a number from 1 to 100")
                }
                repeats = n
                i += 1
            case "--semantics":
                guard i < args.count else { fail("kernel-diff: --semantics expects a value") }
                semantics = args[i]
                i += 1
            default:
                if a.hasPrefix("-") { fail("kernel-diff: unknown option \(JSONWriter.quote(a)) (expected --json, --repeat N or --semantics NAME)") }
                if file != nil { fail("kernel-diff: expected one config file, got \(JSONWriter.quote(file!)) and \(JSONWriter.quote(a))") }
                file = a
            }
        }
        guard let file else { fail("kernel-diff: missing config file (usage: foliosim kernel-diff FILE [--json] [--repeat N])") }
        let scenario: Scenario
        do {
            scenario = try Scenario.load(path: file, semantics: semantics)
        } catch {
            fail(error.description)
        }
        do {
            let r = try await KernelDiff.run(scenario, options: KernelDiff.Options(repeats: repeats, helper: selfExecutable()))
            print(json ? JSONWriter.write(r.json) : r.text, terminator: json ? "\n" : "")
            exit(r.agrees ? 0 : 1)
        } catch {
            fail("kernel-diff: \(file): \(error.message)")
        }
    }
}
