import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// Combinations of the rule switches S1–S8 that no kernel had are refused unless a config asks
/// for a what-if study (issue 18, item 3); proposals, injections and `thp.sizes` stay open.
@Suite(.enabled(if: Tier.fast)) struct SemanticsErasTests {
    func decode(_ semantics: String, thp: String = "") -> Result<Scenario, ConfigError> {
        Result { () throws(ConfigError) -> Scenario in
            try Scenario.decode(text: "{ semantics: \(semantics), \(thp) steps: [] }", file: "c.json5")
        }
    }

    @Test func everyPresetIsAKernelAndEachReleasePresetContainsItsRelease() {
        for (name, s) in Semantics.presets {
            let kernels = SemanticsEras.kernels(with: s)
            #expect(!kernels.isEmpty, "\(name)")
            if name != "rfc2023" { #expect(kernels.contains(s.release), "\(name): \(kernels)") }
        }
        #expect(SemanticsEras.kernels(with: .rfc2023) == Array(615...618), "RFC v2's rules are those of 6.15+ plus its proposals")
    }

    @Test func aV57PresetWithROPinUnsharingNamesBothSwitches() throws {
        guard case .failure(let e) = decode(#"{ preset: "v5.7", roPin: "unshare-anon" }"#) else { Issue.record("accepted"); return }
        #expect(e.path == "semantics.roPin")
        #expect(e.message.contains(#"anonReuse "mapcount" (≤5.8)"#) && e.message.contains(#"roPin "unshare-anon" (5.19–6.1)"#)
                && e.message.contains("allowAnyCombination"), "\(e)")
        #expect(!e.description.contains("\n"))
    }

    @Test func theSwitchTheConfigSetIsBlamedEvenWhenItComesSecond() throws {
        guard case .failure(let e) = decode(#"{ preset: "v6.18", anonReuse: "mapcount" }"#) else { Issue.record("accepted"); return }
        #expect(e.path == "semantics.anonReuse" && e.message.contains(#"anonReuse "mapcount""#), "\(e)")
        guard case .failure(let f) = decode(#"{ preset: "v5.9", gupFastFork: "wp-seq", faultOrder: "mthp" }"#) else { Issue.record("accepted"); return }
        #expect(f.path == "semantics.faultOrder" || f.path == "semantics.gupFastFork", "\(f)")
    }

    @Test func allowAnyCombinationRunsTheWhatIf() throws {
        let s = try decode(#"{ preset: "v5.7", roPin: "unshare-anon", allowAnyCombination: true }"#).get()
        #expect(s.semantics.roPin == .unshareAnon && s.semantics.anonReuse == .mapcount)
        #expect(throws: ConfigError.self) { try decode(#"{ preset: "v5.7", allowAnyCombination: 1 }"#).get() }
    }

    @Test func combinationsSomeKernelHadAreAccepted() throws {
        for sem in [#"{ preset: "v6.18", anonReuse: "ae" }"#, #"{ preset: "v5.9", gupFastFork: "wp-seq" }"#,
                    #"{ preset: "v5.7", roPin: "force-cow" }"#, #"{ preset: "v6.1", mprotectUpgrade: "never", forceWrite: "foll-cow", roPin: "unshare-anon" }"#] {
            #expect((try? decode(sem).get()) != nil, "\(sem)")
        }
    }

    @Test func proposalsInjectionsAndTHPSizesStayOpenUnderEveryPreset() throws {
        for (name, _) in Semantics.presets {
            for extra in [#"cowCopy: "aligned-range""#, "rangeReuse: true", #"inject: ["fork-ignores-pins"]"#, #"pinnedSwapout: "swap""#, "vmaLocks: true"] {
                #expect((try? decode("{ preset: \"\(name)\", \(extra) }").get()) != nil, "\(name) \(extra)")
            }
            #expect((try? decode("\"\(name)\"", thp: #"thp: { sizes: { "64K": "always" } },"#).get()) != nil, "\(name) thp.sizes")
        }
    }

    @Test func releaseRangesReadAsTheTableDoes() {
        #expect(SemanticsEras.describe(SemanticsEras.roPin(.none)) == "≤5.7, 5.9–5.18")
        #expect(SemanticsEras.describe(SemanticsEras.anonReuse(.aeMMID)) == "6.15+")
        #expect(SemanticsEras.describe(SemanticsEras.span(600, 618)) == "6.0+")
        #expect(SemanticsEras.describe(SemanticsEras.mprotectUpgrade(.never)) == "≤5.19")
        #expect(SemanticsEras.describe(SemanticsEras.releases) == "5.0–6.18")
    }
}
