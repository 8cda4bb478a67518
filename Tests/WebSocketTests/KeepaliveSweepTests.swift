import Glibc
import Reactor
import TestSupport
import Testing
@testable import WebSocket

/// Pings and idle timeouts come from one sweep per loop, not a timer per connection.
@Suite struct KeepaliveSweepTests {
    /// 40 silent peers: the loop holds one timer for all of them (the sweep), each is pinged
    /// once, and each is dropped when its ping stays unanswered; a peer that answers stays.
    @Test func silentPeersArePingedThenDroppedByOneSweep() throws {
        var configuration = WebSocketConfiguration()
        configuration.pingIntervalMilliseconds = 300
        let server = try TestServer(configuration: configuration) { _ in .upgrade { WebSocket(context: $0) } }
        defer { server.stop() }
        let silent = try (0..<40).map { _ in try rawUpgrade(port: server.port) }
        defer { silent.forEach { close($0) } }
        let answering = try rawUpgrade(port: server.port)
        defer { close(answering) }
        for fd in silent + [answering] { _ = readUpgradeResponse(fd) }

        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.context.keepalive?.count }) == 41 })
        // One sweep timer, where there used to be 41 keepalive timers.
        #expect(try server.thread.sync { server.thread.loop.timerCount } == 1)

        for fd in silent {
            #expect(readBytes(fd, count: 2, seconds: 5) == [0x89, 0])  // the ping
        }
        #expect(readBytes(answering, count: 2, seconds: 5) == [0x89, 0])
        writeAll(answering, maskedFrame(0xA, []))  // the pong
        for fd in silent {
            #expect(readToEnd(fd, seconds: 5).isEmpty)  // reset: no close frame, no answer to ping
        }
        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 1 })
        #expect(try server.thread.sync { server.context.keepalive?.count } == 1)
        // The answering peer is pinged again after another quiet interval, and stays.
        #expect(readBytes(answering, count: 2, seconds: 5) == [0x89, 0])
    }

    /// Connections that close leave the sweep, and an empty sweep holds no timer.
    @Test func closedConnectionsLeaveTheSweep() throws {
        var configuration = WebSocketConfiguration()
        configuration.idleTimeoutMilliseconds = 60_000
        let server = try TestServer(configuration: configuration) { _ in .upgrade { WebSocket(context: $0) } }
        defer { server.stop() }
        var fds = try (0..<30).map { _ in try rawUpgrade(port: server.port) }
        for fd in fds { _ = readUpgradeResponse(fd) }
        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.context.keepalive?.count }) == 30 })
        // Close them in an order that moves slots around.
        for index in stride(from: 0, to: 30, by: 3) { close(fds[index]) }
        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.context.keepalive?.count }) == 20 })
        fds = fds.enumerated().filter { $0.offset % 3 != 0 }.map(\.element)
        fds.forEach { close($0) }
        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.context.keepalive?.count }) == 0 })
        #expect(try server.thread.sync { server.thread.loop.timerCount } == 0)
    }
}
