import Dispatch
import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// A publish costs its size once, whatever the number of subscribers that have not taken it,
/// and the loop's queued output stays within its budget.
@Suite struct SharedSendTests {
    /// The server side of every subscriber, in the order they opened. Loop thread only.
    final class Subscribers: @unchecked Sendable {
        var sockets: [Subscriber] = []
    }

    /// Subscribes to "t" when it opens; when it closes, publishes "gone" to "t" (as a
    /// presence feature would), which is what a failing write during a flush must survive.
    final class Subscriber: WebSocket, @unchecked Sendable {
        /// Weak: the registry holds the sockets, and a cycle would keep the loop alive.
        weak var registry: Subscribers?
        var closedWith: CloseCode?
        override func didOpen() {
            registry?.sockets.append(self)
            subscribe("t")
        }
        override func didClose(code: CloseCode, reason: String) {
            closedWith = code
            Array("gone".utf8).withUnsafeBytes { context.publish("t", $0, kind: .text) }
        }
    }

    private func server(_ configuration: WebSocketConfiguration = WebSocketConfiguration()) throws -> (TestServer, Subscribers) {
        let registry = Subscribers()
        let server = try TestServer(configuration: configuration) { _ in
            .upgrade {
                let socket = Subscriber(context: $0)
                socket.registry = registry
                return socket
            }
        }
        return (server, registry)
    }

    /// `count` subscribers that read nothing until the test reads their sockets. The server
    /// side's socket buffers are kept small (a fixed size also turns the kernel's autotuning
    /// off), so that they take little of a large message.
    private func subscribe(_ count: Int, to server: TestServer, registry: Subscribers) throws -> [Int32] {
        var fds: [Int32] = []
        for _ in 0..<count {
            let fd = try rawUpgrade(port: server.port)
            #expect(readUpgradeResponse(fd).hasPrefix("HTTP/1.1 101"))
            fds.append(fd)
        }
        let total = count
        #expect(waitUntil(seconds: 10) { (try? server.thread.sync { server.context.subscriberCount("t") }) == total })
        try server.thread.sync {
            for socket in registry.sockets {
                var size: Int32 = 16 * 1024
                setsockopt(socket.fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        return fds
    }

    private func publish(_ server: TestServer, _ payload: [UInt8]) throws {
        try server.thread.sync { payload.withUnsafeBytes { server.context.publish("t", $0, kind: .binary) } }
    }

    private static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
    }

    /// The header of an unmasked binary frame of `count` bytes (> 65535).
    private static func largeHeader(_ count: Int) -> [UInt8] {
        [0x82, 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: count >> ($0 * 8)) }
    }

    @Test func aLargePublishIsQueuedOnceForAllSlowSubscribers() throws {
        let (server, registry) = try server()
        defer { server.stop() }
        let fds = try subscribe(8, to: server, registry: registry)
        defer { fds.forEach { close($0) } }
        let size = 4 << 20
        let payload = Self.pattern(size)
        try publish(server, payload)
        // The flush runs at the end of the iteration that published; look after it.
        let (queuedBytes, sharedBuffers, queuedPerSubscriber) = try server.thread.sync {
            (server.context.loop.outboundMemory.queuedBytes, server.context.loop.outboundMemory.sharedBuffers, registry.sockets.map(\.queuedAmount))
        }
        // Every subscriber still has most of the message to send, yet it is held once.
        #expect(queuedPerSubscriber.allSatisfy { $0 > size / 2 })
        #expect(sharedBuffers == 1)
        #expect(queuedBytes <= size + 64 * 1024)
        for fd in fds {
            let header = Self.largeHeader(size)
            #expect(readBytes(fd, count: header.count, seconds: 20) == header)
            #expect(readBytes(fd, count: size, seconds: 20) == payload)
        }
        let released = waitUntil(seconds: 10) {
            (try? server.thread.sync { server.context.loop.outboundMemory.sharedBuffers == 0 && server.context.loop.outboundMemory.queuedBytes == 0 }) == true
        }
        #expect(released)
    }

    @Test func aMessageOverTheLimitIsRefusedBehindABacklog() throws {
        var configuration = WebSocketConfiguration()
        configuration.maxBufferedAmount = 64 * 1024
        configuration.slowConsumerPolicy = .dropMessages
        let (server, registry) = try server(configuration)
        defer { server.stop() }
        let fds = try subscribe(1, to: server, registry: registry)
        defer { fds.forEach { close($0) } }
        // With nothing queued a message over the limit still goes out...
        try publish(server, Self.pattern(8 << 20))
        // ...but not behind one.
        try publish(server, Self.pattern(100 * 1024))
        let dropped = try server.thread.sync { server.context.statistics.messagesDropped }
        #expect(dropped == 1)
    }

    @Test func overTheMemoryBudgetSlowSubscribersAreClosedAndTheMemoryFreed() throws {
        var configuration = WebSocketConfiguration()
        configuration.maxOutboundMemory = 4 << 20
        configuration.maxBufferedAmount = 64 << 20
        let (server, registry) = try server(configuration)
        defer { server.stop() }
        let fds = try subscribe(6, to: server, registry: registry)
        defer { fds.forEach { close($0) } }
        try publish(server, Self.pattern(8 << 20))
        try publish(server, Self.pattern(10))
        let (refusals, codes) = try server.thread.sync {
            (server.context.statistics.outboundMemoryRefusals, registry.sockets.map(\.closedWith))
        }
        #expect(refusals == 6)
        #expect(codes.allSatisfy { $0 == .policyViolation })
        let freed = waitUntil(seconds: 10) {
            (try? server.thread.sync { server.context.loop.outboundMemory.queuedBytes == 0 && server.context.loop.outboundMemory.sharedBuffers == 0 }) == true
        }
        #expect(freed)
    }

    /// A subscriber that fails while the flush writes to it (its socket refuses the write)
    /// publishes to the same topic from `didClose`: the flush must not be writing from the
    /// topic's batch then, and the new message goes out in a second round.
    @Test func aSubscriberFailingDuringTheFlushMayPublishToTheSameTopic() throws {
        let (server, registry) = try server()
        defer { server.stop() }
        let fds = try subscribe(3, to: server, registry: registry)
        defer { fds.forEach { close($0) } }
        try server.thread.sync {
            // Writes to the first subscriber now fail with EPIPE.
            _ = shutdown(registry.sockets[0].fd, Int32(SHUT_WR))
            Array("x".utf8).withUnsafeBytes { server.context.publish("t", $0, kind: .text) }
        }
        let expected: [UInt8] = [0x81, 1] + Array("x".utf8) + [0x81, 4] + Array("gone".utf8)
        #expect(readBytes(fds[1], count: expected.count) == expected)
        #expect(readBytes(fds[2], count: expected.count) == expected)
    }
}
