import Glibc
import Reactor
import TestSupport
import Testing
@testable import WebSocket

/// Pings and idle timeouts come from one sweep per loop, not a timer per connection. The
/// tests assert what happens, not how fast: a machine slowed by sanitizers or other work
/// only makes them take longer.
@Suite struct KeepaliveSweepTests {
    /// 41 open connections: the loop holds one timer for all of them (the sweep).
    @Test func oneTimerKeepsAllConnectionsAlive() throws {
        var configuration = WebSocketConfiguration()
        configuration.pingIntervalMilliseconds = 600_000
        let server = try TestServer(configuration: configuration) { _ in .upgrade { WebSocket(context: $0) } }
        defer { server.stop() }
        let fds = try (0..<41).map { _ in try rawUpgrade(port: server.port) }
        defer { fds.forEach { close($0) } }
        for fd in fds { _ = readUpgradeResponse(fd) }
        #expect(waitUntil(seconds: 30) { (try? server.thread.sync { server.context.keepalive?.count }) == 41 })
        // One sweep timer, where there used to be 41 keepalive timers.
        #expect(try server.thread.sync { server.thread.loop.timerCount } == 1)
    }

    /// Silent peers are pinged once each, then dropped when the ping stays unanswered; a peer
    /// that answers stays and is pinged again after another quiet interval.
    @Test func silentPeersArePingedThenDropped() throws {
        var configuration = WebSocketConfiguration()
        configuration.pingIntervalMilliseconds = 1_000
        let server = try TestServer(configuration: configuration) { _ in .upgrade { WebSocket(context: $0) } }
        defer { server.stop() }
        let answering = try rawUpgrade(port: server.port)
        defer { close(answering) }
        _ = readUpgradeResponse(answering)
        let silent = try (0..<20).map { _ in try rawUpgrade(port: server.port) }
        defer { silent.forEach { close($0) } }
        for fd in silent { _ = readUpgradeResponse(fd) }

        // The answering peer first: it has at least three quarters of an interval to answer.
        #expect(readBytes(answering, count: 2, seconds: 30) == [0x89, 0])  // the ping
        writeAll(answering, maskedFrame(0xA, []))  // the pong
        for fd in silent {
            // One ping, then the reset: no close frame (the peer is taken for gone).
            #expect(readToEnd(fd, seconds: 30) == [0x89, 0])
        }
        #expect(waitUntil(seconds: 30) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 1 })
        #expect(try server.thread.sync { server.context.keepalive?.count } == 1)
        #expect(readBytes(answering, count: 2, seconds: 30) == [0x89, 0])  // pinged again, still open
    }

    /// Two servers on one loop: each context's sweep watches its own connections only (it
    /// walks the loop's registrations, which hold both servers' connections), and each runs.
    @Test func eachContextSweepsItsOwnConnections() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        var pinging = WebSocketConfiguration()
        pinging.pingIntervalMilliseconds = 1_000
        var quiet = WebSocketConfiguration()
        quiet.pingIntervalMilliseconds = 600_000
        let servers = try [pinging, quiet].map { try TestServer(on: thread, configuration: $0) { _ in .upgrade { WebSocket(context: $0) } } }
        let pinged = try (0..<5).map { _ in try rawUpgrade(port: servers[0].port) }
        let unpinged = try (0..<7).map { _ in try rawUpgrade(port: servers[1].port) }
        defer { (pinged + unpinged).forEach { close($0) } }
        for fd in pinged + unpinged { _ = readUpgradeResponse(fd) }
        #expect(waitUntil(seconds: 30) { (try? thread.sync { servers[0].context.keepalive?.count }) == 5 })
        #expect(waitUntil(seconds: 30) { (try? thread.sync { servers[1].context.keepalive?.count }) == 7 })
        for fd in pinged {
            #expect(readBytes(fd, count: 2, seconds: 30) == [0x89, 0])
        }
        for fd in unpinged {
            #expect(readBytes(fd, count: 2, seconds: 1) == [])
        }
    }

    /// Connections that close leave the sweep, and a sweep that finds none left stops its timer.
    @Test func closedConnectionsLeaveTheSweep() throws {
        var configuration = WebSocketConfiguration()
        configuration.idleTimeoutMilliseconds = 600_000
        let server = try TestServer(configuration: configuration) { _ in .upgrade { WebSocket(context: $0) } }
        defer { server.stop() }
        var fds = try (0..<30).map { _ in try rawUpgrade(port: server.port) }
        for fd in fds { _ = readUpgradeResponse(fd) }
        #expect(waitUntil(seconds: 30) { (try? server.thread.sync { server.context.keepalive?.count }) == 30 })
        // Close some while others stay, then the rest.
        for index in stride(from: 0, to: 30, by: 3) { close(fds[index]) }
        #expect(waitUntil(seconds: 30) { (try? server.thread.sync { server.context.keepalive?.count }) == 20 })
        fds = fds.enumerated().filter { $0.offset % 3 != 0 }.map(\.element)
        fds.forEach { close($0) }
        #expect(waitUntil(seconds: 30) { (try? server.thread.sync { server.context.keepalive?.count }) == 0 })
        // The next sweep (at most a second later) finds nobody and schedules no other.
        #expect(waitUntil(seconds: 30) { (try? server.thread.sync { server.thread.loop.timerCount }) == 0 })
    }
}
