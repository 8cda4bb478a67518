import Logging
import Reactor
import ServiceLifecycle
import Testing
import TestSupport
import WebSocket
import WebSocketService

// The README's service lifecycle sample, as written there (but on port 0, and with the
// signal replaced by `triggerGracefulShutdown()`).

/// A service of your own next to the WebSocket server: publishes a tick every 100 ms.
struct Ticker: Service {
    let server: WebSocketServer

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            server.publish("ticks", Array("tick".utf8), kind: .text)
            // Ends the sleep early when the group shuts down.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
        }
    }
}

final class TickSocket: WebSocket, @unchecked Sendable {
    override func didOpen() { subscribe("ticks") }
}

@Suite struct ReadmeSampleTests {
    @Test func serviceGroupSampleRunsAndShutsDown() async throws {
        let group = try EventLoopGroup(count: 2)
        let server = WebSocketServer { request in
            request.head.path == "/ticks" ? .upgrade { TickSocket(context: $0) } : .notFound
        }
        let address = try server.listen(on: group.loops, address: SocketAddress(host: "127.0.0.1", port: 0))
        let services = ServiceGroup(
            services: [WebSocketService(server: server, group: group, shutdownTimeout: .seconds(5)), Ticker(server: server)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "app"))
        let running = Task { try await services.run() }

        let client = try LoopThread()
        defer { client.stop() }
        let record = try connectClient(on: client, port: address.port, path: "/ticks")
        #expect(await eventually(seconds: 60) { !record.received.withLock { $0.isEmpty } })
        #expect(record.received.withLock { $0.first } == "tick")

        await services.triggerGracefulShutdown()   // what SIGTERM or SIGINT does
        try await running.value
        #expect(await eventually(seconds: 60) { record.closeCode.withLock { $0 } != nil })
        #expect(record.closeCode.withLock { $0 } == .goingAway)
    }
}
