import Glibc
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// A graceful shutdown concerns one server: what it accepted, and nothing else on its loops.
@Suite struct DrainTests {
    @Test func drainClosesOnlyTheConnectionsOfItsOwnServer() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let drained = WebSocketServer { _ in .upgrade { EchoSocket(context: $0) } }
        let other = WebSocketServer { _ in .upgrade { EchoSocket(context: $0) } }
        let loop = thread.loop
        let ports = try thread.sync {
            let address = try SocketAddress(host: "127.0.0.1", port: 0)
            return (try drained.listen(on: [loop], address: address).port, try other.listen(on: [loop], address: address).port)
        }
        let drainedFD = try rawUpgrade(port: ports.0)
        defer { close(drainedFD) }
        let otherFD = try rawUpgrade(port: ports.1)
        defer { close(otherFD) }
        #expect(readUpgradeResponse(drainedFD).hasPrefix("HTTP/1.1 101"))
        #expect(readUpgradeResponse(otherFD).hasPrefix("HTTP/1.1 101"))

        drained.drain()
        let goingAway = readBytes(drainedFD, count: 4)
        #expect(goingAway == [0x88, goingAway.count > 1 ? goingAway[1] : 0, 0x03, 0xE9])
        // The other server's connection on the same loop is untouched: it still echoes.
        writeAll(otherFD, maskedFrame(0x1, Array("still".utf8)))
        #expect(readBytes(otherFD, count: 7) == [0x81, 5] + Array("still".utf8))
    }

    @Test func handshakeInProgressWhenTheDrainStartsGets503() throws {
        let server = try TestServer { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Array("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
        // Accepted (so closing the listener does not drop it), head not yet complete.
        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 1 })
        server.server.drain()
        try server.thread.sync {}  // the drain task has run
        let rest = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        writeAll(fd, Array(rest.utf8))
        #expect(String(decoding: readToEnd(fd), as: UTF8.self).hasPrefix("HTTP/1.1 503"))
    }
}
