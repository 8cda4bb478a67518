import Foundation
import Synchronization
import Testing
import TestSupport
import Reactor
import TLS
import WebSocket

final class TLSEchoSocket: WebSocket, @unchecked Sendable {
    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        send(message, kind: kind)
    }
}

/// A wss:// server on its own loop, with the shared test certificates.
final class TLSTestServer: Sendable {
    let thread: LoopThread
    let server: WebSocketServer
    let port: Int

    init(handshakeTimeoutMilliseconds: Int64 = 10_000, clientCA: String? = nil) throws {
        let certificates = TestCertificates.shared
        let tls = try TLSContext.server(
            certificates: [
                TLSCertificateFiles(chainPath: certificates.serverChain, keyPath: certificates.serverKey),
                TLSCertificateFiles(chainPath: certificates.otherChain, keyPath: certificates.otherKey),
            ],
            clientCertificateAuthority: clientCA)
        var configuration = WebSocketConfiguration()
        configuration.handshakeTimeoutMilliseconds = handshakeTimeoutMilliseconds
        configuration.limits = FrameLimits(maxFrameSize: 4 << 20, maxMessageSize: 4 << 20)
        thread = try LoopThread()
        server = WebSocketServer(configuration: configuration) { request in
            switch request.head.path {
            case "/whoami": .text(200, "\(request.isSecure) \(request.peerCertificateSubject ?? "-")\n")
            default: .upgrade { TLSEchoSocket(context: $0) }
            }
        }
        let server = self.server
        let loop = thread.loop
        port = try thread.sync {
            try server.listen(on: [loop], address: SocketAddress(host: "127.0.0.1", port: 0), tls: tls).port
        }
    }

    var connectionCount: Int { (try? thread.sync { self.thread.loop.connectionCount }) ?? -1 }

    /// Descriptors registered with the server's loop (the listener and open connections).
    var registrationCount: Int {
        (try? thread.sync {
            var count = 0
            self.thread.loop.forEachRegistration { _ in count += 1 }
            return count
        }) ?? -1
    }

    func stop() { thread.stop() }
}

/// The first outcome a client reports.
final class Outcome: Sendable {
    private let text = Mutex<String?>(nil)
    func record(_ value: String) { text.withLock { if $0 == nil { $0 = value } } }
    var value: String? { text.withLock { $0 } }
}

/// Sends each payload in turn, checks every byte of its echo, and records the outcome.
final class SizedEchoClient: WebSocket, @unchecked Sendable {
    let payloads: [[UInt8]]
    let outcome: Outcome
    private var next = 0

    init(context: WebSocketContext, payloads: [[UInt8]], outcome: Outcome) {
        self.payloads = payloads
        self.outcome = outcome
        super.init(context: context)
    }

    override func didOpen() {
        for payload in payloads { send(payload, kind: .binary) }
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        guard next < payloads.count, message.byteArray == payloads[next] else {
            finish("mismatch at message \(next) (\(message.byteCount) bytes)")
            return
        }
        next += 1
        if next == payloads.count { finish("ok") }
    }

    override func didClose(code: CloseCode, reason: String) {
        finish("closed \(code.rawValue) \(reason) after \(next) of \(payloads.count)")
    }

    private func finish(_ text: String) {
        outcome.record(text)
    }
}


@Suite(.serialized) struct TLSWebSocketTests {
    private static func pattern(_ size: Int, seed: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &+ $0 >> 8) }
    }

    /// Echoes `payloads` through a wss:// client of the library; returns the outcome.
    private func echo(_ payloads: [[UInt8]], port: Int, client: LoopThread, trust: TLSTrust? = nil) throws -> String {
        let certificates = TestCertificates.shared
        let tls = try TLSContext.client(trust: trust ?? .certificateAuthority(path: certificates.caPath))
        let outcome = Outcome()
        let url = try WebSocketURL("wss://localhost:\(port)/echo")
        let socket = try client.sync {
            let context = WebSocketContext(loop: client.loop, role: .client)
            let socket = SizedEchoClient(context: context, payloads: payloads, outcome: outcome)
            try socket.connect(to: url, tls: tls)
            return socket
        }
        _ = waitUntil(seconds: 60) { outcome.value != nil }
        try client.sync { socket.close() }
        return outcome.value ?? "no answer"
    }

    @Test func messagesOfEverySizeEchoByteForByte() throws {
        let server = try TLSTestServer()
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let sizes = [0, 1, 125, 126, 16_383, 16_384, 16_385, 40_000, 65_536, 300_000, 2 << 20]
        let payloads = sizes.enumerated().map { Self.pattern($0.element, seed: $0.offset) }
        let outcome = try echo(payloads, port: server.port, client: client)
        #expect(outcome == "ok", "\(outcome)")
    }

    @Test func manySmallMessagesEchoInOrder() throws {
        let server = try TLSTestServer()
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let payloads = (0..<5_000).map { Self.pattern($0 % 200, seed: $0) }
        let outcome = try echo(payloads, port: server.port, client: client)
        #expect(outcome == "ok", "\(outcome)")
    }

    @Test func aClientRefusesAServerItDoesNotTrust() throws {
        let server = try TLSTestServer()
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let outcome = try echo([[1, 2, 3]], port: server.port, client: client, trust: .system)
        #expect(outcome.contains("certificate verification failed"), "\(outcome)")
        #expect(waitUntil(seconds: 5) { server.connectionCount == 0 })
    }

    /// Bytes that are not TLS, a cut handshake, a silent client: each closes cleanly, leaks
    /// no descriptor, and an open connection keeps working meanwhile.
    @Test(arguments: ["garbage", "plaintext HTTP", "cut ClientHello", "silent"])
    func aBrokenHandshakeClosesCleanly(kind: String) throws {
        let server = try TLSTestServer(handshakeTimeoutMilliseconds: 400)
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let fd = try #require(connectBlocking(port: server.port))
        switch kind {
        case "garbage": writeAll(fd, (0..<600).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) })
        case "plaintext HTTP": writeAll(fd, Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        case "cut ClientHello": writeAll(fd, Array(Self.clientHelloStart))
        default: break
        }
        // Meanwhile a proper client is served.
        let outcome = try echo([Self.pattern(20_000, seed: 9)], port: server.port, client: client)
        #expect(outcome == "ok", "\(outcome)")
        let start = MonotonicClock.milliseconds()
        let answer = readToEnd(fd, seconds: 5)
        close(fd)
        #expect(!answer.starts(with: Array("HTTP".utf8)), "no plaintext answer on the TLS port")
        #expect(MonotonicClock.milliseconds() - start < 4_000, "closed, by an alert or the handshake timeout")
        #expect(waitUntil(seconds: 5) { server.connectionCount == 0 })
        // readToEnd saw the end: the server closed its descriptor; none stays registered.
        #expect(waitUntil(seconds: 5) { server.registrationCount == 1 }, "only the listener is left")
    }

    /// The first bytes of a TLS 1.2/1.3 ClientHello record: a handshake header promising
    /// more than is sent.
    private static let clientHelloStart: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + [UInt8](repeating: 0x42, count: 32)
}
