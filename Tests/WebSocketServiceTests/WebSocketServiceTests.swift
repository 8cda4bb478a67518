import Glibc
import Logging
import Reactor
import ServiceLifecycle
import Testing
import TestSupport
import WebSocket
import WebSocketService

final class EchoSocket: WebSocket, @unchecked Sendable {
    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        send(message, kind: kind)
    }
}

/// The service's shutdown: what clients see, and that `run()` returns in bounded time.
@Suite struct WebSocketServiceTests {
    /// A server on two loops, bound to a free port, wrapped in a service.
    private func makeService(shutdownTimeout: Duration = .seconds(5)) throws -> (WebSocketService, port: Int) {
        let group = try EventLoopGroup(count: 2)
        let server = WebSocketServer { _ in .upgrade { EchoSocket(context: $0) } }
        let address = try server.listen(on: group.loops, address: SocketAddress(host: "127.0.0.1", port: 0))
        return (WebSocketService(server: server, group: group, shutdownTimeout: shutdownTimeout), address.port)
    }

    @Test func gracefulShutdownSendsGoingAwayAndRunReturns() async throws {
        let (service, port) = try makeService(shutdownTimeout: .seconds(60))
        let services = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await services.run() }

        let client = try LoopThread()
        defer { client.stop() }
        let record = try connectClient(on: client, port: port, path: "/echo")
        #expect(await eventually(seconds: 60) { record.opened.load(ordering: .acquiring) })

        let started = ContinuousClock.now
        await services.triggerGracefulShutdown()
        try await running.value
        // The client answered the close at once, so the wait ended well before its bound.
        #expect(ContinuousClock.now - started < .seconds(20), "long before the 60 s bound")
        #expect(await eventually(seconds: 60) { record.closeCode.withLock { $0 } != nil })
        #expect(record.closeCode.withLock { $0 } == .goingAway)
        // The listeners are gone with the loops.
        let late = await blocking { connectBlocking(port: port) }
        #expect(late == nil)
        if let late { close(late) }
    }

    @Test func cancellationAlsoDrains() async throws {
        let (service, port) = try makeService()
        let services = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await services.run() }

        let client = try LoopThread()
        defer { client.stop() }
        let record = try connectClient(on: client, port: port, path: "/echo")
        #expect(await eventually(seconds: 60) { record.opened.load(ordering: .acquiring) })

        running.cancel()
        _ = try? await running.value
        #expect(await eventually(seconds: 60) { record.closeCode.withLock { $0 } != nil })
        #expect(record.closeCode.withLock { $0 } == .goingAway)
    }

    /// Opens a raw socket that completes the upgrade, then reads nothing and answers nothing.
    private func silentClient(port: Int) async throws -> Int32 {
        let fd = try #require(await blocking { connectBlocking(port: port) })
        let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        writeAll(fd, Array(request.utf8))
        // The whole response head, so that what is read next is the first frame.
        let response = await blocking {
            var head: [UInt8] = []
            while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
                // Long: the loops start inside the service, on a pool other suites may keep busy.
                let byte = readBytes(fd, count: 1, seconds: 120)
                guard !byte.isEmpty else { break }
                head += byte
            }
            return head
        }
        #expect(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        return fd
    }

    @Test func aClientThatNeverClosesDelaysShutdownOnlyUntilTheTimeout() async throws {
        let (service, port) = try makeService(shutdownTimeout: .milliseconds(300))
        let services = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await services.run() }
        let fd = try await silentClient(port: port)
        defer { close(fd) }

        let started = ContinuousClock.now
        await services.triggerGracefulShutdown()
        try await running.value
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(250))
        #expect(elapsed < .seconds(15), "bounded by the timeout, not by the silent client")
    }

    @Test func cancellationDuringTheWaitStopsAtOnce() async throws {
        let (service, port) = try makeService(shutdownTimeout: .seconds(30))
        let services = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await services.run() }
        let fd = try await silentClient(port: port)
        defer { close(fd) }

        await services.triggerGracefulShutdown()
        // The 1001 reaches the silent client: the drain has begun, and the wait with it.
        let goingAway = await blocking { readBytes(fd, count: 4, seconds: 120) }
        #expect(goingAway.count == 4 && goingAway[0] == 0x88 && goingAway[2...3] == [0x03, 0xE9])
        let started = ContinuousClock.now
        running.cancel()
        _ = try? await running.value
        #expect(ContinuousClock.now - started < .seconds(20), "not the 30 s bound")
    }
}
