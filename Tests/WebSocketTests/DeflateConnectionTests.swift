import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// Sends `count` messages, text and binary, compressible and random, of sizes around the
/// threshold and far above it, and checks every echoed byte in order.
final class DeflateVerifyingClient: VerifyingClient, @unchecked Sendable {
    override func message(_ sequence: Int) -> (bytes: [UInt8], kind: MessageKind) {
        let sizes = [0, 1, 127, 128, 129, 1000, 4096, 20_000]
        let size = sizes[(index + sequence) % sizes.count]
        let start = (index * 31 + sequence * 17) % 1000
        if sequence % 3 == 2 {
            return (Array(DeflatePayloads.random[start..<start + size]), .binary)
        }
        return (Array(DeflatePayloads.compressible[start..<start + size]), sequence % 2 == 0 ? .text : .binary)
    }
}

/// A raw upgrade that offers permessage-deflate with `offer`.
func rawDeflateUpgrade(port: Int, offer: String = "permessage-deflate; client_no_context_takeover") throws -> Int32 {
    let fd = try #require(connectBlocking(port: port))
    let request = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Extensions: \(offer)\r\n\r\n"
    writeAll(fd, Array(request.utf8))
    return fd
}

/// A masked client frame of any length; `first` is the whole first byte (FIN, RSV, opcode).
func maskedFrame(first: UInt8, _ payload: [UInt8]) -> [UInt8] {
    let key: [UInt8] = [1, 2, 3, 4]
    var frame: [UInt8] = [first]
    if payload.count < 126 {
        frame.append(0x80 | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        frame.append(0x80 | 127)
        frame += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
    }
    return frame + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
}

func deflateConfiguration(_ change: (inout DeflateConfiguration) -> Void = { _ in }) -> WebSocketConfiguration {
    var configuration = WebSocketConfiguration()
    configuration.deflate.isEnabled = true
    change(&configuration.deflate)
    return configuration
}

/// The close code at the start of what the server sent before closing.
func closeCode(in answer: [UInt8]) -> UInt16? {
    guard answer.count >= 4, answer[0] == 0x88 else { return nil }
    return UInt16(answer[2]) << 8 | UInt16(answer[3])
}

@Suite struct DeflateConnectionTests {
    @Test(arguments: [
        (serverNo: false, clientNo: false, serverBits: 15, clientBits: 15),
        (serverNo: true, clientNo: true, serverBits: 15, clientBits: 15),
        (serverNo: true, clientNo: false, serverBits: 9, clientBits: 12),
        (serverNo: false, clientNo: true, serverBits: 8, clientBits: 8),
    ])
    func ourClientAndServerEchoEveryByteCompressed(serverNo: Bool, clientNo: Bool, serverBits: Int, clientBits: Int) throws {
        let server = try TestServer(configuration: deflateConfiguration()) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let configuration = deflateConfiguration {
            $0.serverNoContextTakeover = serverNo
            $0.clientNoContextTakeover = clientNo
            $0.serverMaxWindowBits = serverBits
            $0.clientMaxWindowBits = clientBits
        }
        let tally = Tally()
        let clients = 10
        let context = try client.sync { WebSocketContext(loop: client.loop, role: .client, configuration: configuration) }
        let url = try WebSocketURL("ws://127.0.0.1:\(server.port)/echo")
        let sockets = try client.sync {
            try (0..<clients).map { index in
                let socket = DeflateVerifyingClient(context: context, index: index, count: 300, tally: tally)
                try socket.connect(to: url)
                return socket
            }
        }
        #expect(waitUntil(seconds: 60) { tally.finished == clients }, "\(tally.summary(expected: clients))")
        #expect(tally.succeeded.load(ordering: .relaxed) == clients, "\(tally.summary(expected: clients))")
        let (serverStats, clientStats) = try (server.thread.sync { server.context.statistics }, client.sync { context.statistics })
        #expect(serverStats.messagesInflated > 0 && serverStats.messagesCompressed > 0)
        #expect(clientStats.messagesInflated == serverStats.messagesCompressed)
        #expect(serverStats.bytesAfterCompression < serverStats.bytesBeforeCompression)
        #expect((serverStats.deflateMemoryBytes > 0) == (!serverNo || !clientNo))
        try client.sync { for socket in sockets { socket.close() } }
        #expect(waitUntil(seconds: 10) { (try? server.thread.sync { server.context.statistics.deflateMemoryBytes }) == 0 })
    }

    @Test func serverDeclinesWhenDisabledAndRSV1IsThenAProtocolError() throws {
        let server = try TestServer { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawDeflateUpgrade(port: server.port)
        defer { close(fd) }
        let response = readUpgradeResponse(fd)
        #expect(!response.lowercased().contains("sec-websocket-extensions"))
        writeAll(fd, maskedFrame(first: 0xC1, [0x01, 0x02]))
        #expect(closeCode(in: readToEnd(fd)) == 1002)
    }

    @Test(arguments: [
        ("RSV1 on a ping", maskedFrame(first: 0xC9, [])),
        ("RSV1 on a continuation", maskedFrame(first: 0x01, [0x61]) + maskedFrame(first: 0xC0, [0x62])),
        ("RSV2", maskedFrame(first: 0xA1, [0x61])),
    ])
    func misplacedReservedBitsFailWith1002(name: String, bytes: [UInt8]) throws {
        let server = try TestServer(configuration: deflateConfiguration()) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawDeflateUpgrade(port: server.port)
        defer { close(fd) }
        #expect(readUpgradeResponse(fd).contains("permessage-deflate"))
        writeAll(fd, bytes)
        #expect(closeCode(in: readToEnd(fd)) == 1002, "\(name)")
    }

    @Test func corruptDataFailsWith1007() throws {
        let server = try TestServer(configuration: deflateConfiguration()) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawDeflateUpgrade(port: server.port)
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        // Block type 3 is reserved in DEFLATE (RFC 1951 §3.2.3).
        writeAll(fd, maskedFrame(first: 0xC2, [0xFF, 0xFF, 0xFF]))
        #expect(closeCode(in: readToEnd(fd)) == 1007)
    }

    @Test func compressedTextIsValidatedAfterInflating() throws {
        let server = try TestServer(configuration: deflateConfiguration()) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawDeflateUpgrade(port: server.port)
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        let deflater = try #require(Deflater(windowBits: 15, contextTakeover: false))
        writeAll(fd, maskedFrame(first: 0xC1, deflate([0x61, 0xC3, 0x28, 0x62], with: deflater)))
        #expect(closeCode(in: readToEnd(fd)) == 1007)
    }

    @Test func zipBombFailsWith1009WithinTheLimit() throws {
        var configuration = deflateConfiguration()
        configuration.limits = FrameLimits(maxFrameSize: 64 * 1024, maxMessageSize: 64 * 1024)
        let server = try TestServer(configuration: configuration) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawDeflateUpgrade(port: server.port)
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        let deflater = try #require(Deflater(windowBits: 15, contextTakeover: false))
        let bomb = deflate([UInt8](repeating: 0, count: 1 << 20), with: deflater)
        #expect(bomb.count < 1100)
        writeAll(fd, maskedFrame(first: 0xC2, bomb))
        #expect(closeCode(in: readToEnd(fd)) == 1009)
        let capacity = try server.thread.sync { server.context.compression.inflated.capacity }
        #expect(capacity <= 64 * 1024)
    }

    @Test func fragmentedCompressedMessageIsInflatedWhole() throws {
        let server = try TestServer(configuration: deflateConfiguration()) { _ in .upgrade { EchoSocket(context: $0) } }
        defer { server.stop() }
        let fd = try rawDeflateUpgrade(port: server.port, offer: "permessage-deflate")
        defer { close(fd) }
        _ = readUpgradeResponse(fd)
        let deflater = try #require(Deflater(windowBits: 15, contextTakeover: false))
        let text = Array(String(repeating: "pushwave ", count: 20).utf8)
        let compressed = deflate(text, with: deflater)
        let cut = compressed.count / 2
        writeAll(fd, maskedFrame(first: 0x41, Array(compressed[..<cut])) + maskedFrame(first: 0x80, Array(compressed[cut...])))
        // The echo comes back compressed (RSV1): inflate it.
        let head = readBytes(fd, count: 2)
        #expect(head.first == 0xC1)
        let payload = readBytes(fd, count: Int(head[1] & 0x7F))
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: true))
        #expect(inflate(payload, with: inflater).bytes == text)
    }
}
