import Dispatch
import Glibc
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// New connections get a bounded number of handshake turns per loop iteration; the others
/// wait on the ready list. These tests hold the loop while clients connect and send, so that
/// all their upgrade requests are ready in one iteration and most must wait: none may be lost,
/// nor any byte that came with a request, nor a FIN that came with it.
@Suite struct HandshakeTurnTests {
    @Test func deferredUpgradesLoseNoConnectionAndNoData() throws {
        var options = EventLoop.Options()
        options.handshakesPerIteration = 1
        let server = try TestServer(loopOptions: options) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let gate = DispatchSemaphore(value: 0)
        server.thread.loop.execute { gate.wait() }

        // Every third client half-closes right after its request and its message: that FIN
        // arrives in the same edge as the request, and only a kept event says so.
        let clientCount = 40
        var clients: [(fd: Int32, payload: [UInt8], halfCloses: Bool)] = []
        for index in 0..<clientCount {
            let payload = Array("message \(index) sent with the upgrade request".utf8)
            let fd = try rawUpgrade(port: server.port, extra: maskedFrame(0x1, payload))
            let halfCloses = index % 3 == 0
            if halfCloses { shutdown(fd, Int32(SHUT_WR)) }
            clients.append((fd, payload, halfCloses))
        }
        defer { for client in clients { close(client.fd) } }
        gate.signal()

        for (index, client) in clients.enumerated() {
            #expect(readUpgradeResponse(client.fd).hasPrefix("HTTP/1.1 101 "), "client \(index)")
            let expected = [0x81, UInt8(client.payload.count)] + client.payload
            #expect(readBytes(client.fd, count: expected.count) == expected, "client \(index)")
            if client.halfCloses {
                #expect(closesWithoutMore(client.fd), "client \(index)")
            }
        }
        // The clients that stayed open are served on after their deferred handshakes.
        for (index, client) in clients.enumerated() where !client.halfCloses {
            let payload = Array("after \(index)".utf8)
            writeAll(client.fd, maskedFrame(0x1, payload))
            #expect(readBytes(client.fd, count: payload.count + 2) == [0x81, UInt8(payload.count)] + payload, "client \(index)")
        }
        let loop = server.thread.loop
        let deferred = try server.thread.sync { loop.handshakeTurnsDeferred }
        #expect(deferred > 0, "the test must make handshakes wait for a turn")
    }

    @Test func keptAliveRequestsDoNotTakeHandshakeTurns() throws {
        var options = EventLoop.Options()
        options.handshakesPerIteration = 1
        let server = try TestServer(loopOptions: options, router: HTTPServerConnectionTests.router)
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, HTTPServerConnectionTests.get("/first"))
        #expect(readResponse(fd)?.text == "GET /first ")
        let loop = server.thread.loop
        let before = try server.thread.sync { loop.handshakeTurnsDeferred }
        // Requests on a connection past its first are not handshakes: none waits for a turn,
        // even when several arrive together.
        writeAll(fd, HTTPServerConnectionTests.get("/second") + HTTPServerConnectionTests.get("/third"))
        #expect(readResponse(fd)?.text == "GET /second ")
        #expect(readResponse(fd)?.text == "GET /third ")
        #expect(try server.thread.sync { loop.handshakeTurnsDeferred } == before)
    }
}
