// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "pushwave",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Reactor", targets: ["Reactor"]),
        .library(name: "TLS", targets: ["TLS"]),
        .library(name: "HTTP", targets: ["HTTP"]),
        .library(name: "WebSocket", targets: ["WebSocket"]),
        .library(name: "Push", targets: ["Push"]),
        .library(name: "Redis", targets: ["Redis"]),
        // A WebSocket server as a swift-service-lifecycle `Service`; the only product that
        // depends on ServiceLifecycle, so Reactor, HTTP and WebSocket users do not.
        .library(name: "WebSocketService", targets: ["WebSocketService"]),
        .executable(name: "pushwave", targets: ["pushwave"]),
        .executable(name: "pushwave-load", targets: ["pushwave-load"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The metrics API (its `CoreMetrics` module: `Metrics` adds Foundation for timing helpers
        // we do not use) and its Prometheus exposition, used by the `pushwave` executable only.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Only for `swift package generate-documentation`: a command plugin, linked into nothing.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // epoll, accept4, eventfd and socket helpers that `import Glibc` does not expose.
        // The system libraries' glue lives in folders of its own below it, each a target, so
        // that a user of the reactor alone links none of them.
        .target(name: "CEpollShim", path: "CEpollShim", exclude: ["OpenSSL", "Zlib", "Hiredis"]),
        // OpenSSL 3 (Debian libssl-dev): SHA-1 for the handshake, HMAC-SHA-256 for tokens, TLS.
        .target(name: "COpenSSLShim", path: "CEpollShim/OpenSSL"),
        // zlib (Debian zlib1g-dev): raw DEFLATE for permessage-deflate (RFC 7692).
        .target(name: "CZlibShim", path: "CEpollShim/Zlib"),
        // hiredis (Debian libhiredis-dev): the RESP reader and command formatter, no I/O.
        .target(name: "CHiredisShim", path: "CEpollShim/Hiredis"),
        .target(
            name: "Reactor",
            dependencies: [
                "CEpollShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // TLS connections over the reactor's transport seam, with loop-shared buffers.
        .target(name: "TLS", dependencies: ["Reactor", "COpenSSLShim"]),
        // A Redis client on the reactor: pipelined commands, pub/sub, reconnects.
        .target(
            name: "Redis",
            dependencies: [
                "Reactor", "CHiredisShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HTTP/1.1 heads and bodies: parsers, request framing, writer, statuses. No I/O, no reactor.
        .target(name: "HTTP"),
        .target(
            name: "WebSocket",
            dependencies: [
                "Reactor", "TLS", "HTTP", "COpenSSLShim", "CZlibShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The push server as a library: the /ws protocol, topic history and recovery, the
        // publish API, connection tokens (and later the Redis backplane).
        .target(
            name: "Push",
            dependencies: [
                "WebSocket", "HTTP", "Reactor", "TLS", "COpenSSLShim", "Redis",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Protocol/PROTOCOL.md"]
        ),
        // Runs a WebSocketServer inside a ServiceGroup: graceful shutdown drains it.
        .target(
            name: "WebSocketService",
            dependencies: [
                "Reactor", "WebSocket",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "pushwave",
            dependencies: [
                "CEpollShim", "Reactor", "WebSocket", "Push", "TLS", "Redis", "WebSocketService",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The chat page is compiled into the binary: nothing to find at run time.
            resources: [.embedInCode("ChatPage/chat.html"), .embedInCode("ChatPage/pushwave.js")]
        ),
        .executableTarget(
            name: "pushwave-load",
            dependencies: [
                "Reactor", "TLS", "HTTP", "WebSocket", "Push",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // Helpers shared by the test targets: a loop on its own thread, blocking sockets.
        .target(name: "TestSupport", dependencies: ["Reactor", "HTTP"], path: "Tests/TestSupport"),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "Reactor", "WebSocket", "TestSupport"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "CEpollShim", "TestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "TestSupport"]),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "Reactor", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "PushTests",
            dependencies: ["Push", "Redis", "Reactor", "WebSocket", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "WebSocketTests", dependencies: ["WebSocket", "HTTP", "Reactor", "TestSupport"]),
        .testTarget(
            name: "WebSocketServiceTests",
            dependencies: [
                "WebSocketService", "WebSocket", "Reactor", "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
