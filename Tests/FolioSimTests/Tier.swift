import Foundation

/// The two test tiers. `swift test` runs the fast tier: every kernel path, config op,
/// invariant, semantics preset and exploration strategy at small sizes and bounds, in well
/// under a minute. `FOLIOSIM_TESTS=full swift test` runs the rest: exhaustive explorations,
/// fuzzing, scale tests, trace replays, every config at its own bound. No test runs in both;
/// CI runs one command after the other.
///
/// A slow test carries `.enabled(if: Tier.full, "full tier: …")`; a test of the fast tier
/// that stands in for one at a small bound carries `.enabled(if: Tier.fast)`. Every other test
/// is in the fast tier: `Tier.fastOnly` is the trait a test (or suite) with no trait gets.
enum Tier {
    static let full = ProcessInfo.processInfo.environment["FOLIOSIM_TESTS"] == "full"
    static let fast = !full
    /// `FOLIOSIM_TESTS_DEEP=1` with the full tier: the reduction and commutativity audits at
    /// their deepest (300,000-schedule caps, 220 generated programs), hours in a debug build;
    /// not run by CI.
    static let deep = full && ProcessInfo.processInfo.environment["FOLIOSIM_TESTS_DEEP"] == "1"
}
