// swift-tools-version: 6.2
import PackageDescription

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
    // The model lives in class properties that every fault touches; the runtime exclusivity
    // checks cost ~35% of a fault (measured with perf). Debug builds (the tests) keep them.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
    // Release builds link the Swift runtime and Foundation statically (the executable's
    // `linkerSettings`); the modules must be compiled for it, as `--static-swift-stdlib` does.
    .unsafeFlags(["-static-stdlib"], .when(configuration: .release)),
]

// Imports go one way: model ← explore ← experiments ← CLI. The model cannot see the
// explorer or the configs; the explorer runs any `ExplorableProgram`, not a config.
let package = Package(
    name: "FolioSim",
    products: [
        .library(name: "FolioSim", targets: ["FolioSimModel", "FolioSimExplore", "FolioSimExperiments"]),
        .executable(name: "foliosim", targets: ["foliosim"]),
    ],
    targets: [
        .target(name: "FolioSimModel", swiftSettings: settings),
        .target(name: "FolioSimExplore", dependencies: ["FolioSimModel"], swiftSettings: settings),
        .target(name: "FolioSimExperiments", dependencies: ["FolioSimModel", "FolioSimExplore"], swiftSettings: settings),
        .executableTarget(name: "foliosim", dependencies: ["FolioSimModel", "FolioSimExplore", "FolioSimExperiments"],
                          swiftSettings: settings,
                          // The runtime linked in: its calls (retain, release, task allocation) skip the PLT and
                          // its thread-local lookups `__tls_get_addr` (callgrind: 5 % of a fault), and the
                          // process starts 6 MiB smaller.
                          linkerSettings: [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]),
        .testTarget(name: "FolioSimTests", dependencies: ["FolioSimModel", "FolioSimExplore", "FolioSimExperiments"],
                    swiftSettings: settings),
    ],
    swiftLanguageModes: [.v6]
)
