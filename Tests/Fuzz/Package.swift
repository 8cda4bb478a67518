// swift-tools-version:6.1
// libFuzzer targets for the protocol parsers and the push layer's token, JSON and metrics readers, built against the package two levels up.
// Build and run them with `scripts/fuzz` (see README.md here).
import PackageDescription

let fuzzers = [
    "FuzzFrameParserServer", "FuzzFrameParserClient", "FuzzHTTPRequest", "FuzzHTTPBody", "FuzzUTF8", "FuzzInflate",
    "FuzzExtensions", "FuzzJSON", "FuzzToken", "FuzzRESP", "FuzzPrometheusMerge",
]

let package = Package(
    name: "pushwave-fuzz",
    platforms: [.macOS(.v15)],
    products: fuzzers.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(name: "pushwave", path: "../.."),
    ],
    targets: [
        // libFuzzer's driver, started from each fuzzer's main.
        .target(name: "CLibFuzzerEntry"),
        // What the fuzzers share: the main, input splitting, exact-size copies, the failure report.
        .target(
            name: "FuzzSupport",
            dependencies: ["CLibFuzzerEntry", .product(name: "WebSocket", package: "pushwave")]
        ),
    ] + fuzzers.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport", .product(name: "WebSocket", package: "pushwave"), .product(name: "HTTP", package: "pushwave"),
                .product(name: "Push", package: "pushwave"), .product(name: "Redis", package: "pushwave"),
            ]
        )
    },
    swiftLanguageModes: [.v6]
)
