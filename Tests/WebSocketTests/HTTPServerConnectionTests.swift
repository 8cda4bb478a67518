import Glibc
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// A response read from a raw socket.
struct RawResponse {
    var status: Int
    var head: String
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func has(_ field: String) -> Bool {
        head.lowercased().contains("\r\n" + field.lowercased() + "\r\n")
    }
}

/// Reads one response: its head up to the empty line, then `Content-Length` bytes of body
/// (none for the answer to a HEAD). Nil when the connection closed first.
func readResponse(_ fd: Int32, bodyExpected: Bool = true, seconds: Int = 5) -> RawResponse? {
    var bytes: [UInt8] = []
    while bytes.count < 4 || Array(bytes.suffix(4)) != [13, 10, 13, 10] {
        let byte = readBytes(fd, count: 1, seconds: seconds)
        if byte.isEmpty { return nil }
        bytes += byte
    }
    let head = String(decoding: bytes, as: UTF8.self)
    let status = Int(head.dropFirst(9).prefix(3)) ?? 0
    let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
        .flatMap { Int($0.dropFirst("content-length:".count).filter { $0 != " " }) } ?? 0
    let body = bodyExpected && length > 0 ? readBytes(fd, count: length, seconds: seconds) : []
    return RawResponse(status: status, head: head, body: body)
}

/// True when the server closed the connection (end of input) within `seconds`, with
/// nothing more sent.
func closesWithoutMore(_ fd: Int32, seconds: Int = 3) -> Bool {
    readToEnd(fd, seconds: seconds).isEmpty && peerClosed(fd)
}

/// Whether a read now returns end of input (not a timeout).
func peerClosed(_ fd: Int32) -> Bool {
    var byte: UInt8 = 0
    return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
}

@Suite struct HTTPServerConnectionTests {
    /// Answers `METHOD PATH ` and the body; `/echo` upgrades, `/only-get` answers 405 to
    /// anything but GET and HEAD, `/close` asks to close.
    static func router(_ request: ServerRequest) -> ServerResponse {
        switch request.head.path {
        case "/echo":
            return .upgrade { EchoSocket(context: $0) }
        case "/only-get":
            guard ["GET", "HEAD"].contains(request.head.method) else { return .methodNotAllowed(allowing: ["GET", "HEAD"]) }
            return .text(200, "got\n")
        case "/close":
            return .http(status: 200, headers: [("Connection", "close")], body: Array("bye".utf8))
        default:
            return .http(status: 200, body: Array("\(request.head.method) \(request.head.path) ".utf8) + request.body)
        }
    }

    static func server(_ configure: (inout WebSocketConfiguration) -> Void = { _ in }) throws -> TestServer {
        var configuration = WebSocketConfiguration()
        configure(&configuration)
        return try TestServer(configuration: configuration, router: router)
    }

    static func post(_ path: String, _ body: String, extra: String = "") -> [UInt8] {
        Array("POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)".utf8)
    }

    static func get(_ path: String, method: String = "GET", version: String = "1.1", extra: String = "") -> [UInt8] {
        Array("\(method) \(path) HTTP/\(version)\r\nHost: x\r\n\(extra)\r\n".utf8)
    }

    @Test func threeRequestsOnOneKeptAliveConnection() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        for (index, request) in [Self.get("/a"), Self.post("/b", "body of b"), Self.get("/c")].enumerated() {
            writeAll(fd, request)
            let response = try #require(readResponse(fd), "response \(index)")
            #expect(response.status == 200)
            #expect(!response.has("Connection: close"))
            #expect(response.text == ["GET /a ", "POST /b body of b", "GET /c "][index])
        }
        #expect(!peerClosed(fd))
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Self.get("/1") + Self.post("/2", "two") + Self.get("/3"))
        let texts = (0..<3).compactMap { _ in readResponse(fd)?.text }
        #expect(texts == ["GET /1 ", "POST /2 two", "GET /3 "])
    }

    @Test func chunkedBodyReachesTheRouterWhateverTheSplits() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        let request = Array("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n".utf8)
        for piece in stride(from: 0, to: request.count, by: 7) {
            writeAll(fd, Array(request[piece..<min(piece + 7, request.count)]))
            usleep(1_000)
        }
        #expect(readResponse(fd)?.text == "POST /up hello world")
    }

    @Test func bodyOfExactlyTheLimitPassesAndOneMoreByteIs413() throws {
        let server = try Self.server { $0.http.maxRequestBodyBytes = 1000 }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Self.post("/big", String(repeating: "a", count: 1000)))
        #expect(readResponse(fd)?.body.count == "POST /big ".utf8.count + 1000)

        // Refused from the length alone, before the body is sent; then the connection closes.
        writeAll(fd, Array("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n".utf8))
        let refused = try #require(readResponse(fd))
        #expect(refused.status == 413)
        #expect(refused.has("Connection: close"))
        #expect(closesWithoutMore(fd))
    }

    @Test func chunkedBodyOverTheLimitIs413() throws {
        let server = try Self.server { $0.http.maxRequestBodyBytes = 10 }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n".utf8))
        #expect(readResponse(fd)?.status == 413)
    }

    @Test func smugglingCombinationIs400AndCloses() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Self.post("/", "0\r\n\r\n", extra: "Transfer-Encoding: chunked\r\n") + Self.get("/smuggled"))
        #expect(readResponse(fd)?.status == 400)
        #expect(closesWithoutMore(fd))
    }

    @Test func slowBodyGets408() throws {
        let server = try Self.server { $0.handshakeTimeoutMilliseconds = 300 }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        // A first request in time, then a second whose body never completes.
        writeAll(fd, Self.get("/first"))
        #expect(readResponse(fd)?.status == 200)
        writeAll(fd, Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc".utf8))
        let start = MonotonicClock.milliseconds()
        #expect(readResponse(fd)?.status == 408)
        #expect(MonotonicClock.milliseconds() - start >= 250)
        #expect(closesWithoutMore(fd))
    }

    @Test func idleKeptAliveConnectionClosesQuietly() throws {
        let server = try Self.server { $0.http.keepAliveTimeoutMilliseconds = 200 }
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Self.get("/"))
        #expect(readResponse(fd)?.status == 200)
        #expect(closesWithoutMore(fd), "closed without a 408")
    }

    @Test func headIsAnsweredLikeGetWithoutTheBody() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        // The GET after it would be misread if any body had followed the HEAD's head.
        writeAll(fd, Self.get("/only-get", method: "HEAD") + Self.get("/only-get"))
        let head = try #require(readResponse(fd, bodyExpected: false))
        #expect(head.status == 200)
        #expect(head.has("Content-Length: 4"))
        let get = try #require(readResponse(fd))
        #expect(get.status == 200 && get.text == "got\n")
    }

    @Test func routeAnswers405WithAllow() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Self.post("/only-get", "x"))
        let response = try #require(readResponse(fd))
        #expect(response.status == 405)
        #expect(response.has("Allow: GET, HEAD"))
    }

    @Test func http10ClosesUnlessItAsksForKeepAlive() throws {
        let server = try Self.server()
        defer { server.stop() }
        let plain = try #require(connectBlocking(port: server.port))
        defer { close(plain) }
        writeAll(plain, Self.get("/", version: "1.0"))
        #expect(readResponse(plain)?.has("Connection: close") == true)
        #expect(closesWithoutMore(plain))

        let keptAlive = try #require(connectBlocking(port: server.port))
        defer { close(keptAlive) }
        for _ in 0..<2 {
            writeAll(keptAlive, Self.get("/", version: "1.0", extra: "Connection: keep-alive\r\n"))
            #expect(readResponse(keptAlive)?.has("Connection: keep-alive") == true)
        }
    }

    @Test func connectionCloseIsHonouredAndLaterRequestsAreNotAnswered() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Self.get("/a", extra: "Connection: close\r\n") + Self.get("/b"))
        let response = try #require(readResponse(fd))
        #expect(response.text == "GET /a " && response.has("Connection: close"))
        #expect(closesWithoutMore(fd))

        // A route can ask for the close itself.
        let other = try #require(connectBlocking(port: server.port))
        defer { close(other) }
        writeAll(other, Self.get("/close"))
        #expect(readResponse(other)?.text == "bye")
        #expect(closesWithoutMore(other))
    }

    @Test func upgradeAfterAKeptAliveRequestWorks() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Self.get("/before"))
        #expect(readResponse(fd)?.text == "GET /before ")
        let upgrade = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        writeAll(fd, Array(upgrade.utf8) + maskedFrame(0x1, Array("after".utf8)))
        let head = readUpgradeResponse(fd)
        #expect(head.hasPrefix("HTTP/1.1 101"))
        #expect(readBytes(fd, count: 7) == [0x81, 5] + Array("after".utf8))
    }

    @Test func continueIsSentBeforeAnAnnouncedBody() throws {
        let server = try Self.server()
        defer { server.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        defer { close(fd) }
        writeAll(fd, Array("POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".utf8))
        #expect(readResponse(fd, bodyExpected: false)?.status == 100)
        writeAll(fd, Array("ok".utf8))
        #expect(readResponse(fd)?.text == "POST /wait ok")
    }

    @Test func drainingAnswers503AndClosesIdleConnections() throws {
        let server = try Self.server()
        defer { server.stop() }
        let idle = try #require(connectBlocking(port: server.port))
        defer { close(idle) }
        writeAll(idle, Self.get("/"))
        #expect(readResponse(idle)?.status == 200)
        let busy = try #require(connectBlocking(port: server.port))
        defer { close(busy) }
        writeAll(busy, Array("GET / HTTP/1.1\r\n".utf8))
        #expect(waitUntil(seconds: 2) { (try? server.thread.sync { server.thread.loop.connectionCount }) == 2 })
        server.server.drain()
        #expect(closesWithoutMore(idle))
        writeAll(busy, Array("Host: x\r\n\r\n".utf8))
        let response = try #require(readResponse(busy))
        #expect(response.status == 503 && response.has("Connection: close"))
        #expect(closesWithoutMore(busy))
    }
}
