// swift-tools-version:6.1
import PackageDescription

// Micro benchmarks for Pushwave's hot paths, run with the `benchmark` plugin of
// ordo-one/benchmark. A package of its own so that the library does not depend on it;
// see Benchmarks/README.md for how to run it.

let package = Package(
    name: "pushwave-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "pushwave", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The configuration shared by every suite.
        .target(
            name: "BenchmarkSupport",
            dependencies: [.product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/BenchmarkSupport",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)

/// One executable per suite, sources in `Benchmarks/<suite>/`.
for suite in ["FrameParsing", "FrameEncoding", "UTF8Validation", "Masking", "RingBuffer"] {
    package.targets.append(
        .executableTarget(
            name: suite,
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WebSocket", package: "pushwave"),
                .product(name: "Reactor", package: "pushwave"),
            ],
            path: "Benchmarks/\(suite)",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
