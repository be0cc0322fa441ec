// swift-tools-version: 6.2
import PackageDescription

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
    // The model lives in class properties that every fault touches; the runtime exclusivity
    // checks cost ~35% of a fault (measured with perf). Debug builds (the tests) keep them.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "FolioSim",
    products: [
        .library(name: "FolioSim", targets: ["FolioSim"]),
        .executable(name: "foliosim", targets: ["foliosim"]),
    ],
    targets: [
        .target(name: "FolioSim", swiftSettings: settings),
        .executableTarget(name: "foliosim", dependencies: ["FolioSim"], swiftSettings: settings),
        .testTarget(name: "FolioSimTests", dependencies: ["FolioSim"], swiftSettings: settings),
    ],
    swiftLanguageModes: [.v6]
)
