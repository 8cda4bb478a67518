import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Reactor

/// The connections a test server accepted, in order; on the loop's thread only.
final class AcceptedConnections: @unchecked Sendable {
    var all: [ClosingOnSignalConnection] = []
}

/// Echoes its input, except a lone `x`: that closes every connection the server accepted, all
/// in this one callback.
final class ClosingOnSignalConnection: TCPConnection, @unchecked Sendable {
    let accepted: AcceptedConnections

    init(loop: EventLoop, accepted: AcceptedConnections) {
        self.accepted = accepted
        super.init(loop: loop)
        accepted.all.append(self)
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        guard bytes.count == 1, bytes[0] == UInt8(ascii: "x") else {
            write(UnsafeRawBufferPointer(bytes))
            return
        }
        for connection in accepted.all { connection.close() }
    }
}

/// Sockets beyond a loop iteration's close turns wait for later iterations: every one of
/// them must still be closed (its client sees the end of input), and the loop must go on
/// serving the others meanwhile and afterwards.
@Suite struct DeferredCloseTests {
    @Test func socketsBeyondTheCloseTurnsAreAllClosedLater() throws {
        var options = EventLoop.Options()
        options.closesPerIteration = 1
        let server = try LoopThread(options: options)
        defer { server.stop() }
        let accepted = AcceptedConnections()
        // The connections and the list hold each other (and through them the loop): let go.
        defer { _ = try? server.sync { accepted.all.removeAll() } }
        let port = try server.sync {
            try TCPListener(loop: server.loop, address: SocketAddress(host: "127.0.0.1", port: 0)) {
                ClosingOnSignalConnection(loop: $0, accepted: accepted)
            }.localAddress.port
        }
        let clientCount = 30
        var clients: [Int32] = []
        defer { for fd in clients { close(fd) } }
        for index in 0..<clientCount {
            let fd = try #require(connectBlocking(port: port))
            clients.append(fd)
            // Each connection is accepted and serving before the next one connects.
            writeAll(fd, Array("client \(index)".utf8))
            #expect(readBytes(fd, count: "client \(index)".utf8.count) == Array("client \(index)".utf8))
        }
        let loop = server.loop
        #expect(try server.sync { loop.connectionCount } == clientCount)

        writeAll(clients[0], Array("x".utf8))
        for (index, fd) in clients.enumerated() {
            #expect(readToEnd(fd).isEmpty, "client \(index)")
            var byte: UInt8 = 0
            #expect(recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0, "client \(index) sees the end of input")
        }
        // One close had a turn in that iteration; the others waited, one per iteration.
        #expect(try server.sync { loop.closesDeferred } == clientCount - 1)
        #expect(try server.sync { loop.connectionCount } == 0)

        // Descriptor numbers freed late are handed out again and serve new connections.
        for index in 0..<3 {
            let fd = try #require(connectBlocking(port: port))
            defer { close(fd) }
            writeAll(fd, Array("again \(index)".utf8))
            #expect(readBytes(fd, count: "again \(index)".utf8.count) == Array("again \(index)".utf8))
        }
    }
}
