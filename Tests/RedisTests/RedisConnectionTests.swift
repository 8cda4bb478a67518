import Glibc
import Logging
import Reactor
import Synchronization
import Testing
import TestSupport

@testable import Redis

/// A blocking listener on a free loopback port that plays Redis by hand.
private struct FakeRedis: ~Copyable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        listen(fd, 4)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func accept() -> Int32 {
        Glibc.accept(fd, nil, nil)
    }

    deinit {
        close(fd)
    }
}

private final class Replies: Sendable {
    let values = Mutex<[Result<RESPValue, RedisError>]>([])
    func record(_ result: Result<RESPValue, RedisError>) { values.withLock { $0.append(result) } }
    var count: Int { values.withLock { $0.count } }
}

@Suite struct RedisConnectionTests {
    @Test func pipelinedRepliesReachTheirHandlersInOrderAcrossReconnects() throws {
        let server = try FakeRedis()
        let thread = try LoopThread()
        defer { thread.stop() }
        let replies = Replies()
        nonisolated(unsafe) var connection: RedisConnection?
        let url = RedisURL(host: "127.0.0.1", port: server.port)
        try thread.sync {
            let made = RedisConnection(loop: thread.loop, url: url, maxQueued: 2, logger: Logger(label: "test"))
            made.start()
            // Sent before the connection is up: queued, then sent in order.
            made.send([Array("GET".utf8), Array("a".utf8)], handler: replies.record)
            made.send([Array("INCR".utf8), Array("b".utf8)], handler: replies.record)
            connection = made
        }
        let first = server.accept()
        let expected = RESPCommand.encode("GET", "a") + RESPCommand.encode("INCR", "b")
        #expect(readBytes(first, count: expected.count) == expected)
        // The replies split mid-reply, and a third command pipelined behind them.
        _ = try thread.sync { connection?.send([Array("ECHO".utf8), []], handler: replies.record) }
        #expect(readBytes(first, count: RESPCommand.encode("ECHO", "").count) == RESPCommand.encode("ECHO", ""))
        for piece in ["+O", "K\r\n:4", "2\r\n$0\r\n", "\r\n"] { writeAll(first, Array(piece.utf8)) }
        #expect(waitUntil(seconds: 5) { replies.count == 3 })
        #expect(replies.values.withLock { $0 } == [.success(.status("OK")), .success(.integer(42)), .success(.bulk([]))])

        // A command in flight when the server goes away fails; the connection comes back.
        _ = try thread.sync { connection?.send([Array("PING".utf8)], handler: replies.record) }
        _ = readBytes(first, count: RESPCommand.encode("PING").count)
        close(first)
        #expect(waitUntil(seconds: 5) { replies.count == 4 })
        #expect(replies.values.withLock { $0.last } == .failure(.connectionLost))
        let second = server.accept()
        #expect(waitUntil(seconds: 5) { (try? thread.sync { connection?.isReady == true }) == true })
        try thread.sync {
            connection?.send([Array("PING".utf8)], handler: replies.record)
            connection?.stop()
        }
        _ = readBytes(second, count: RESPCommand.encode("PING").count)
        close(second)
        #expect(replies.values.withLock { $0.last } == .failure(.stopped))
    }

    @Test func whileDisconnectedTheQueueIsBounded() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let replies = Replies()
        let accepted = try thread.sync {
            // Nothing listens on port 1: the connection keeps retrying.
            let connection = RedisConnection(loop: thread.loop, url: RedisURL(host: "127.0.0.1", port: 1), maxQueued: 2, logger: Logger(label: "test"))
            connection.start()
            let accepted = (0..<3).map { _ in connection.send([Array("PING".utf8)], handler: replies.record) }
            connection.stop()
            return accepted
        }
        #expect(accepted == [true, true, false])
        #expect(replies.values.withLock { $0 } == [.failure(.queueFull), .failure(.stopped), .failure(.stopped)])
    }

    @Test func commandsOfOneIterationGoOutInOneWrite() throws {
        let server = try FakeRedis()
        let thread = try LoopThread()
        defer { thread.stop() }
        nonisolated(unsafe) var connection: RedisConnection?
        try thread.sync {
            let made = RedisConnection(loop: thread.loop, url: RedisURL(host: "127.0.0.1", port: server.port), logger: Logger(label: "test"))
            made.start()
            connection = made
        }
        let peer = server.accept()
        defer { close(peer) }
        #expect(waitUntil(seconds: 5) { (try? thread.sync { connection?.isReady == true }) == true })
        let writes = try thread.sync {
            for index in 0..<1_000 { connection?.send([Array("INCR".utf8), Array("k\(index)".utf8)]) }
            connection?.sendWithoutReply([Array("SUBSCRIBE".utf8), Array("c".utf8)])
            return connection?.writes ?? -1
        }
        // Nothing is written while the iteration runs; its flush hook writes it all at once.
        #expect(writes == 0)
        let expected = (0..<1_000).flatMap { RESPCommand.encode("INCR", "k\($0)") } + RESPCommand.encode("SUBSCRIBE", "c")
        #expect(readBytes(peer, count: expected.count) == expected)
        #expect(try thread.sync { connection?.writes } == 1)
        try thread.sync { connection?.stop() }
    }

    @Test func aConnectionThatStopsAnsweringPingsIsReplaced() throws {
        let server = try FakeRedis()
        let thread = try LoopThread()
        defer { thread.stop() }
        let timeouts = Mutex(0)
        nonisolated(unsafe) var connection: RedisConnection?
        try thread.sync {
            let made = RedisConnection(loop: thread.loop, url: RedisURL(host: "127.0.0.1", port: server.port), role: "subscriber",
                                       logger: Logger(label: "test"))
            made.probeInterval = 100
            made.probeTimeout = 200
            made.onProbeTimeout = { timeouts.withLock { $0 += 1 } }
            made.start()
            connection = made
        }
        // The first server answers one PING (as a subscriber would) and then goes silent.
        let first = server.accept()
        defer { close(first) }
        let ping = RESPCommand.encode("PING")
        #expect(readBytes(first, count: ping.count) == ping)
        writeAll(first, Array("*2\r\n$4\r\npong\r\n$0\r\n\r\n".utf8))
        #expect(readBytes(first, count: ping.count) == ping)
        #expect(timeouts.withLock { $0 } == 0)
        // Unanswered: the connection is reset and a new one made.
        let second = server.accept()
        defer { close(second) }
        #expect(second >= 0)
        #expect(timeouts.withLock { $0 } == 1)
        #expect(readBytes(second, count: ping.count) == ping)
        try thread.sync { connection?.stop() }
    }
}
