import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// A server on its own loop, for tests.
final class TestServer: Sendable {
    let thread: LoopThread
    let server: WebSocketServer
    let port: Int

    convenience init(configuration: WebSocketConfiguration = WebSocketConfiguration(), loopOptions: EventLoop.Options = EventLoop.Options(),
         router: @escaping @Sendable (ServerRequest) -> ServerResponse) throws {
        try self.init(on: LoopThread(options: loopOptions), configuration: configuration, router: router)
    }

    /// A server on a loop that may carry others too (`stop()` stops the loop for all).
    init(on thread: LoopThread, configuration: WebSocketConfiguration = WebSocketConfiguration(),
         router: @escaping @Sendable (ServerRequest) -> ServerResponse) throws {
        self.thread = thread
        server = WebSocketServer(configuration: configuration, router: router)
        let server = self.server
        let loop = thread.loop
        port = try thread.sync {
            try server.listen(on: [loop], address: SocketAddress(host: "127.0.0.1", port: 0), backlog: 4096).port
        }
    }

    var context: WebSocketContext { server.contexts[0] }

    func stop() { thread.stop() }
}

/// Sends `count` messages (by default binary, of varied sizes with a pattern from its index;
/// subclasses pick others with `message(_:)`), checks each echo byte for byte and in order,
/// then stays open until the test closes it (so that every client is open at the same time).
/// A failure is recorded with its class: the close code and reason, or the message that did
/// not match.
class VerifyingClient: WebSocket, @unchecked Sendable {
    let index: Int
    let count: Int
    let tally: Tally
    var next = 0
    var done = false

    init(context: WebSocketContext, index: Int, count: Int, tally: Tally) {
        self.index = index
        self.count = count
        self.tally = tally
        super.init(context: context)
    }

    /// The message number `sequence` of this client.
    func message(_ sequence: Int) -> (bytes: [UInt8], kind: MessageKind) {
        let size = (index * 7 + sequence * 13) % 300
        return ((0..<size).map { UInt8(truncatingIfNeeded: $0 &+ index &+ sequence) }, .binary)
    }

    override func didOpen() {
        tally.opened.add(1, ordering: .relaxed)
        for sequence in 0..<count {
            let (bytes, kind) = message(sequence)
            send(bytes, kind: kind)
        }
    }

    override func didReceive(_ received: RawSpan, kind: MessageKind) {
        let expected = message(next)
        guard kind == expected.kind, received.byteArray == expected.bytes else {
            fail("mismatch at message \(next) of \(count)")
            return
        }
        next += 1
        if next == count, !done {
            done = true
            tally.record(success: true)
        }
    }

    override func didClose(code: CloseCode, reason: String) {
        fail("closed \(code.rawValue) \"\(reason)\" after \(next) of \(count) echoes")
    }

    private func fail(_ failure: String) {
        guard !done else { return }
        done = true
        tally.record(failure: failure)
        close()
    }
}

/// A raw, blocking client for sending hand-made bytes.
func rawUpgrade(port: Int, path: String = "/echo", extra: [UInt8] = []) throws -> Int32 {
    let fd = try #require(connectBlocking(port: port))
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    writeAll(fd, Array(request.utf8) + extra)
    return fd
}

/// A masked client frame (mask key 0x01020304).
func maskedFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
    precondition(payload.count < 126)
    let key: [UInt8] = [1, 2, 3, 4]
    return [(fin ? 0x80 : 0) | opcode, 0x80 | UInt8(payload.count)] + key
        + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
}

/// Reads the response head one byte at a time, so that whatever follows it (frames) stays
/// unread in the socket for the test to read next.
func readUpgradeResponse(_ fd: Int32) -> String {
    var bytes: [UInt8] = []
    while true {
        let chunk = readBytes(fd, count: 1)
        if chunk.isEmpty { break }
        bytes += chunk
        if bytes.count >= 4, Array(bytes.suffix(4)) == [13, 10, 13, 10] { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}

@Suite struct ServerClientTests {
    @Test func threeThousandConcurrentClientsEchoEveryByte() throws {
        // The test proves that every byte of every echo comes back while 3,000 connections are
        // open at once, not how fast an upgrade storm is absorbed: connects go out in batches,
        // each once the previous batch has opened, and the handshake timeouts are generous, so
        // a slow or sanitized machine does not fail it.
        let configuration = {
            var configuration = WebSocketConfiguration()
            configuration.handshakeTimeoutMilliseconds = 120_000
            return configuration
        }()
        let server = try TestServer(configuration: configuration) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let tally = Tally()
        let clients = 3_000
        let context = try client.sync { WebSocketContext(loop: client.loop, role: .client, configuration: configuration) }
        let url = try WebSocketURL("ws://127.0.0.1:\(server.port)/echo")
        var sockets: [VerifyingClient] = []
        for batch in stride(from: 0, to: clients, by: 250) {
            let end = min(batch + 250, clients)
            sockets += try client.sync {
                try (batch..<end).map { index in
                    let socket = VerifyingClient(context: context, index: index, count: 20, tally: tally)
                    try socket.connect(to: url)
                    return socket
                }
            }
            _ = waitUntil(seconds: 120) { tally.opened.load(ordering: .relaxed) + tally.failed.load(ordering: .relaxed) >= end }
        }
        #expect(waitUntil(seconds: 120) { tally.finished == clients }, "\(tally.summary(expected: clients))")
        #expect(tally.succeeded.load(ordering: .relaxed) == clients, "\(tally.summary(expected: clients))")
        #expect(try server.thread.sync { server.thread.loop.connectionCount } == clients, "every client open at once")
        let opened = sockets
        try client.sync { for socket in opened { socket.close() } }
        // The server side ends clean: no connection, no pooled block, no timer left behind.
        #expect(waitUntil(seconds: 20) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 0 })
        let leftovers = try server.thread.sync { (server.thread.loop.pool.blocksInUse, server.thread.loop.timerCount) }
        #expect(leftovers.0 == 0)
        #expect(leftovers.1 <= 1, "only a periodic timer may remain")
    }

    @Test func eagerFrameInTheUpgradeRequestIsNotLost() throws {
        let server = try TestServer { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawUpgrade(port: server.port, extra: maskedFrame(0x1, Array("eager".utf8)))
        defer { close(fd) }
        let head = readUpgradeResponse(fd)
        #expect(head.hasPrefix("HTTP/1.1 101"))
        #expect(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        #expect(readBytes(fd, count: 7) == [0x81, 5] + Array("eager".utf8))
    }

    @Test func slowlorisIsClosedAtTheHandshakeTimeout() throws {
        var configuration = WebSocketConfiguration()
        configuration.handshakeTimeoutMilliseconds = 300
        let server = try TestServer(configuration: configuration) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Array("GET /echo HTTP/1.1\r\nHost: x\r\n".utf8))
        let start = MonotonicClock.milliseconds()
        let response = String(decoding: readToEnd(fd, seconds: 5), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 408"))
        #expect(MonotonicClock.milliseconds() - start < 3_000)
    }

    @Test func oversizedRequestHeadGets431() throws {
        let server = try TestServer { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Array("GET /echo HTTP/1.1\r\nX-Padding: \(String(repeating: "a", count: 10_000))\r\n\r\n".utf8))
        #expect(String(decoding: readToEnd(fd), as: UTF8.self).hasPrefix("HTTP/1.1 431"))
    }

    @Test func unsupportedHTTPVersionGets505WithItsReasonPhrase() throws {
        let server = try TestServer { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Array("GET /echo HTTP/2.0\r\nHost: x\r\n\r\n".utf8))
        #expect(String(decoding: readToEnd(fd), as: UTF8.self).hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
    }

    @Test func routerRejectsAForeignOriginWith403() throws {
        let server = try TestServer { request in
            guard request.head.value("Origin") == "http://good.example" else { return .text(403, "forbidden origin\n") }
            return .upgrade { EchoSocket(context: $0) }
        }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        let request = "GET /echo HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        writeAll(fd, Array(request.utf8))
        #expect(String(decoding: readToEnd(fd), as: UTF8.self).hasPrefix("HTTP/1.1 403"))
    }

    @Test func subprotocolIsNegotiatedWithOurClient() throws {
        final class Seen: Sendable { let value = Mutex<String?>(nil) }
        final class ProtocolRecorder: WebSocket, @unchecked Sendable {
            let seen: Seen
            init(context: WebSocketContext, seen: Seen) {
                self.seen = seen
                super.init(context: context)
            }
            override func didOpen() {
                seen.value.withLock { $0 = subprotocol ?? "none" }
                close()
            }
        }
        let seen = Seen()
        let server = try TestServer { request in
            let chosen = request.head.requestedSubprotocols.first { $0 == "chat.v2" }
            return .upgrade(subprotocol: chosen) { EchoSocket(context: $0) }
        }
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        try client.sync {
            let socket = ProtocolRecorder(context: WebSocketContext(loop: client.loop, role: .client), seen: seen)
            try socket.connect(to: WebSocketURL("ws://127.0.0.1:\(server.port)/"), subprotocols: ["chat.v1", "chat.v2"])
        }
        #expect(waitUntil(seconds: 5) { seen.value.withLock { $0 } != nil })
        #expect(seen.value.withLock { $0 } == "chat.v2")
    }

    @Test func pingIsAnsweredAndUnsolicitedPongIgnored() throws {
        let server = try TestServer { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawUpgrade(port: server.port)
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        writeAll(fd, maskedFrame(0xA, [9, 9]) + maskedFrame(0x9, [1, 2, 3]))
        #expect(readBytes(fd, count: 5) == [0x8A, 3, 1, 2, 3])
    }

    @Test func protocolErrorClosesWith1002AndTheServerClosesTCP() throws {
        let server = try TestServer { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawUpgrade(port: server.port)
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        writeAll(fd, [0x81, 0x02, 0x68, 0x69])  // unmasked text frame from a client
        let answer = readToEnd(fd)
        #expect(Array(answer.prefix(4)) == [0x88, UInt8(answer.count - 2), 0x03, 0xEA])
    }

    @Test func clientInitiatedCloseCompletesOnBothSides() throws {
        final class Recorder: WebSocket, @unchecked Sendable {
            let codes: Recorded
            init(context: WebSocketContext, codes: Recorded) {
                self.codes = codes
                super.init(context: context)
            }
            override func didClose(code: CloseCode, reason: String) { codes.value.withLock { $0.append(code) } }
        }
        final class Recorded: Sendable { let value = Mutex<[CloseCode]>([]) }
        let recorded = Recorded()
        let server = try TestServer { _ in .upgrade { Recorder(context: $0, codes: recorded) } }
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let outcome = ClientOutcome()
        try client.sync {
            let socket = ScriptedClient(context: WebSocketContext(loop: client.loop, role: .client), messages: [], outcome: outcome)
            try socket.connect(to: WebSocketURL("ws://127.0.0.1:\(server.port)/"))
        }
        #expect(waitUntil(seconds: 5) { outcome.closeCode.withLock { $0 } != nil && recorded.value.withLock { !$0.isEmpty } })
        #expect(outcome.closeCode.withLock { $0 } == .normalClosure)
        #expect(recorded.value.withLock { $0 } == [.normalClosure])
    }

    @Test func slowConsumerIsClosedWith1008WithoutUnboundedMemory() throws {
        final class Flooder: WebSocket, @unchecked Sendable {
            override func didOpen() { flood() }
            override func didDrain() { flood() }
            func flood() {
                let chunk = [UInt8](repeating: 7, count: 16 * 1024)
                while case .sent = send(chunk, kind: .binary) {}
            }
        }
        var configuration = WebSocketConfiguration()
        configuration.maxBufferedAmount = 256 * 1024
        configuration.closeTimeoutMilliseconds = 300
        let server = try TestServer(configuration: configuration) { _ in .upgrade { Flooder(context: $0) } }
        defer { server.stop() }
        let fd = try rawUpgrade(port: server.port)
        defer { close(fd) }
        // Never read: the server must give up on us and free what it queued.
        #expect(waitUntil(seconds: 10) { (try? server.thread.sync { server.context.statistics.slowConsumersClosed }) == 1 })
        #expect(waitUntil(seconds: 10) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 0 })
        #expect(try server.thread.sync { server.thread.loop.pool.blocksInUse } == 0)
    }

    @Test func idleConnectionIsClosedWith1001() throws {
        var configuration = WebSocketConfiguration()
        configuration.idleTimeoutMilliseconds = 200
        configuration.pingIntervalMilliseconds = 0
        let server = try TestServer(configuration: configuration) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawUpgrade(port: server.port)
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        let frame = readBytes(fd, count: 4, seconds: 5)
        #expect(frame == [0x88, frame.count > 1 ? frame[1] : 0, 0x03, 0xE9])
    }

    @Test func silentPeerIsPingedThenDropped() throws {
        var configuration = WebSocketConfiguration()
        configuration.pingIntervalMilliseconds = 200
        let server = try TestServer(configuration: configuration) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawUpgrade(port: server.port)
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        #expect(readBytes(fd, count: 2, seconds: 5) == [0x89, 0])  // the ping
        let start = MonotonicClock.milliseconds()
        _ = readToEnd(fd, seconds: 5)  // no pong: reset after another interval
        #expect(MonotonicClock.milliseconds() - start < 3_000)
        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 0 })
    }

    @Test func topicsReachSubscribersOnEveryLoopOnceEach() throws {
        final class Subscriber: WebSocket, @unchecked Sendable {
            override func didOpen() { subscribe("news") }
            override func didReceive(_ message: RawSpan, kind: MessageKind) { publish("news", message, kind: kind) }
        }
        let group = try EventLoopGroup(count: 2)
        let server = WebSocketServer { _ in .upgrade { Subscriber(context: $0) } }
        let address = try server.listen(on: group.loops, address: SocketAddress(host: "127.0.0.1", port: 0))
        try group.start { _ in }
        defer { group.stop(); group.wait() }

        let fds = try (0..<20).map { _ in try rawUpgrade(port: address.port, path: "/news") }
        defer { fds.forEach { close($0) } }
        for fd in fds { _ = readUpgradeResponse(fd) }
        // Both loops must have subscribers before publishing.
        #expect(waitUntil(seconds: 5) {
            server.contexts.allSatisfy { context in
                let loop = context.loop
                let count = Mutex(0)
                let done = Atomic<Bool>(false)
                loop.execute { count.withLock { $0 = context.subscriberCount("news") }; done.store(true, ordering: .releasing) }
                _ = waitUntil(seconds: 1) { done.load(ordering: .acquiring) }
                return count.withLock { $0 } > 0
            } && server.contexts.reduce(0) { total, context in total + subscriberCount(context) } == 20
        })
        writeAll(fds[0], maskedFrame(0x1, Array("hi".utf8)))
        for fd in fds {
            #expect(readBytes(fd, count: 4) == [0x81, 2, 0x68, 0x69])
        }
        server.publish("news", Array("all".utf8), kind: .text)
        for fd in fds {
            #expect(readBytes(fd, count: 5) == [0x81, 3, 0x61, 0x6C, 0x6C])
        }
    }
}

/// Subscriber count read on the context's own loop.
private func subscriberCount(_ context: WebSocketContext) -> Int {
    let count = Mutex(-1)
    context.loop.execute { count.withLock { $0 = context.subscriberCount("news") } }
    _ = waitUntil(seconds: 2) { count.withLock { $0 } >= 0 }
    return count.withLock { $0 }
}
