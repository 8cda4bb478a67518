import Dispatch
import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// The close frames and the final close codes that one side saw.
final class CloseRecord: Sendable {
    let opened = Atomic<Int>(0)
    let received = Mutex<[(code: CloseCode, reason: String)]>([])
    let closed = Mutex<[CloseCode]>([])
}

/// Records `didReceiveClose` and `didClose`; closes with `closing` once open, if given.
final class CloseRecordingSocket: WebSocket, @unchecked Sendable {
    let record: CloseRecord
    let closing: (code: CloseCode, reason: String)?

    init(context: WebSocketContext, record: CloseRecord, closing: (code: CloseCode, reason: String)? = nil) {
        self.record = record
        self.closing = closing
        super.init(context: context)
    }

    override func didOpen() {
        record.opened.add(1, ordering: .relaxed)
        if let closing { close(code: closing.code, reason: closing.reason) }
    }

    override func didReceiveClose(code: CloseCode, reason: String) {
        record.received.withLock { $0.append((code, reason)) }
    }

    override func didClose(code: CloseCode, reason: String) {
        record.closed.withLock { $0.append(code) }
    }
}

/// `didReceiveClose` tells the side that began the closing handshake that the peer answered
/// (its `didClose` reports its own code either way), and the peer what it was sent.
@Suite struct ReceivedCloseTests {
    @Test func bothSidesSeeThePeersCloseFrame() throws {
        let serverSide = CloseRecord()
        let server = try TestServer { _ in .upgrade { CloseRecordingSocket(context: $0, record: serverSide) } }
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let clientSide = CloseRecord()
        try client.sync {
            let socket = CloseRecordingSocket(
                context: WebSocketContext(loop: client.loop, role: .client), record: clientSide, closing: (CloseCode(4000), "done"))
            try socket.connect(to: WebSocketURL("ws://127.0.0.1:\(server.port)/"))
        }
        #expect(waitUntil(seconds: 10) { clientSide.closed.withLock { !$0.isEmpty } && serverSide.closed.withLock { !$0.isEmpty } })
        // The server answers with the code it was sent, without a reason.
        #expect(clientSide.received.withLock { $0.map(\.code) } == [CloseCode(4000)])
        #expect(clientSide.received.withLock { $0.map(\.reason) } == [""])
        #expect(clientSide.closed.withLock { $0 } == [CloseCode(4000)])
        #expect(serverSide.received.withLock { $0.map(\.code) } == [CloseCode(4000)])
        #expect(serverSide.received.withLock { $0.map(\.reason) } == ["done"])
        #expect(serverSide.closed.withLock { $0 } == [CloseCode(4000)])
    }

    /// Clients closing all at once, against a server that may close one socket per loop
    /// iteration, or answer one close frame per iteration: every close and every answer
    /// waiting for a later iteration still comes, answer first.
    @Test(arguments: [(closes: 1, answers: 1_000), (closes: 1_000, answers: 1)])
    func everyClientOfACloseStormHearsTheServersAnswer(turns: (closes: Int, answers: Int)) throws {
        var options = EventLoop.Options()
        options.closesPerIteration = turns.closes
        options.handshakesPerIteration = turns.answers
        let server = try TestServer(loopOptions: options) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let clientCount = 200
        let clientSide = CloseRecord()
        let sockets = try client.sync {
            let context = WebSocketContext(loop: client.loop, role: .client)
            return try (0..<clientCount).map { _ in
                let socket = CloseRecordingSocket(context: context, record: clientSide)
                try socket.connect(to: WebSocketURL("ws://127.0.0.1:\(server.port)/"))
                return UncheckedBox(socket)
            }
        }
        #expect(waitUntil(seconds: 30) { clientSide.opened.load(ordering: .relaxed) == clientCount })
        let deferredBefore = try server.thread.sync { server.thread.loop.handshakeTurnsDeferred }
        // The server's loop waits while every close frame is sent, so that it finds them all
        // in one iteration, with one close turn.
        try whileHeld(server.thread.loop) { try client.sync { for socket in sockets { socket.value.close() } } }

        #expect(waitUntil(seconds: 30) { clientSide.closed.withLock { $0.count } == clientCount })
        #expect(clientSide.received.withLock { $0.count } == clientCount)
        #expect(clientSide.received.withLock { $0.allSatisfy { $0.code == .normalClosure } })
        #expect(waitUntil(seconds: 30) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 0 })
        if turns.closes == 1 { #expect(try server.thread.sync { server.thread.loop.closesDeferred } > 0) }
        if turns.answers == 1 { #expect(try server.thread.sync { server.thread.loop.handshakeTurnsDeferred } > deferredBefore) }
    }
}

/// Sends until its send buffer is full (dropping what does not fit), once open.
final class FloodingSocket: WebSocket, @unchecked Sendable {
    override func didOpen() {
        let chunk = [UInt8](repeating: 7, count: 16 * 1024)
        while case .sent = send(chunk, kind: .binary) {}
    }
}

extension ReceivedCloseTests {
    /// The server's answer to a close waits behind output the peer does not read: the close
    /// timeout must end the connection, as it does when the server closes first.
    @Test func aPeerThatClosesAndStopsReadingIsDroppedAtTheCloseTimeout() throws {
        var configuration = WebSocketConfiguration()
        configuration.maxBufferedAmount = 256 * 1024
        configuration.slowConsumerPolicy = .dropMessages
        configuration.closeTimeoutMilliseconds = 300
        let server = try TestServer(configuration: configuration) { _ in .upgrade { FloodingSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawUpgrade(port: server.port)
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        #expect(waitUntil(seconds: 10) { (try? server.thread.sync { server.context.queuedOutboundBytes }) ?? 0 > 0 })

        writeAll(fd, maskedFrame(0x8, [0x03, 0xE8]))  // and never read again
        #expect(waitUntil(seconds: 10) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 0 })
        #expect(try server.thread.sync { server.thread.loop.pool.blocksInUse } == 0)
    }
}

extension ReceivedCloseTests {
    /// Close frames that find the loop's turns used up wait for later iterations; output
    /// queued before them (the peers were not reading) still goes out first, then the answer,
    /// then the end of TCP.
    @Test func aDeferredAnswerFollowsTheOutputQueuedBeforeIt() throws {
        var options = EventLoop.Options()
        options.handshakesPerIteration = 1
        var configuration = WebSocketConfiguration()
        configuration.maxBufferedAmount = 256 * 1024
        configuration.slowConsumerPolicy = .dropMessages
        let server = try TestServer(configuration: configuration, loopOptions: options) { _ in
            .upgrade { FloodingSocket(context: $0) }
        }
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try rawUpgrade(port: server.port) }
        defer { for fd in clients { close(fd) } }
        for fd in clients { #expect(readUpgradeResponse(fd).hasPrefix("HTTP/1.1 101")) }
        // Every connection has filled its socket and queued the rest.
        #expect(waitUntil(seconds: 10) {
            (try? server.thread.sync { server.context.queuedOutboundBytes }) ?? 0 >= clients.count * 16 * 1024
        })
        let deferredBefore = try server.thread.sync { server.thread.loop.handshakeTurnsDeferred }
        whileHeld(server.thread.loop) { for fd in clients { writeAll(fd, maskedFrame(0x8, [0x03, 0xE8])) } }
        #expect(waitUntil(seconds: 10) {
            ((try? server.thread.sync { server.thread.loop.handshakeTurnsDeferred }) ?? 0) > deferredBefore
        })

        for fd in clients {
            let run = parseFrames(readToEnd(fd, seconds: 30), role: .client)
            #expect(run.outcome == .needMoreBytes && !run.isHoldingBytes, "the stream ends on a frame boundary")
            #expect(run.events.count > 1)
            #expect(run.events.dropLast().allSatisfy { if case .message(.binary, let payload) = $0 { payload.count == 16 * 1024 } else { false } })
            #expect(run.events.last == .close(.normalClosure, []))
        }
        #expect(waitUntil(seconds: 10) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 0 })
    }
}

/// Runs `body` while `loop` is held in one of its tasks, so that everything `body` makes its
/// peers send is there for the loop's next iteration at once.
private func whileHeld(_ loop: EventLoop, _ body: () throws -> Void) rethrows {
    let held = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    loop.execute {
        held.signal()
        release.wait()
    }
    held.wait()
    defer { release.signal() }
    try body()
}

/// Carries a loop-confined object out of `LoopThread.sync`, to be used on that loop again.
struct UncheckedBox<Value: AnyObject>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
