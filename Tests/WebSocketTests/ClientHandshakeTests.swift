import Testing

@_spi(Internals) @testable import WebSocket
import HTTP
import TestSupport

@Suite struct ClientHandshakeTests {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    static func response(_ text: String) -> HTTPResponseHead? {
        var parser = HTTPResponseParser()
        if case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ parser.parse($0) }) { return head }
        return nil
    }

    static func switching(_ extra: String = "", accept: String = accept) -> String {
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\(extra)\r\n"
    }

    @Test func randomKeysAre16BytesOfBase64AndDiffer() {
        let first = ClientHandshake.randomKey()
        let second = ClientHandshake.randomKey()
        #expect(first.utf8.count == 24)
        #expect(Base64.decode(first)?.count == 16)
        #expect(first != second)
        var generator = SplitMix64(seed: 9)
        var again = SplitMix64(seed: 9)
        #expect(ClientHandshake.randomKey(using: &generator) == ClientHandshake.randomKey(using: &again))
    }

    @Test func theRequestIsAValidUpgradeForOurOwnServerSide() throws {
        let bytes = ClientHandshake.request(
            host: "example.com:8080", path: "/chat?x=1", key: Self.key, subprotocols: ["a", "b"],
            extraHeaders: [("Origin", "http://example.com")])
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n"))
        #expect(text.hasSuffix("Sec-WebSocket-Protocol: a, b\r\nOrigin: http://example.com\r\n\r\n"))
        var parser = HTTPRequestParser()
        guard case .complete(let head, let consumed) = bytes.withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("the request must parse")
            return
        }
        #expect(consumed == bytes.count)
        #expect(try UpgradeRequest.validate(head).get() == Self.key)
        #expect(head.requestedSubprotocols == ["a", "b"])
        #expect(head.value("Origin") == "http://example.com")
    }

    @Test func anEmptyPathBecomesSlashAndOddCharactersAreEscaped() {
        let plain = String(decoding: ClientHandshake.request(host: "h", path: "", key: Self.key), as: UTF8.self)
        #expect(plain.hasPrefix("GET / HTTP/1.1\r\n"))
        #expect(!plain.contains("Sec-WebSocket-Protocol"))
        let odd = String(decoding: ClientHandshake.request(host: "h", path: "/a b\r\nX: é", key: Self.key), as: UTF8.self)
        #expect(odd.hasPrefix("GET /a%20b%0D%0AX:%20%C3%A9 HTTP/1.1\r\n"))
    }

    @Test func aCorrectResponseIsAccepted() throws {
        let head = try #require(Self.response(Self.switching()))
        #expect(head.status == 101)
        #expect(head.reasonPhrase == "Switching Protocols")
        #expect(try ClientHandshake.validate(head, key: Self.key, requestedSubprotocols: []).get() == nil)
        let chosen = try #require(Self.response(Self.switching("Sec-WebSocket-Protocol: b\r\n")))
        #expect(try ClientHandshake.validate(chosen, key: Self.key, requestedSubprotocols: ["a", "b"]).get() == "b")
        let lowercase = try #require(Self.response("HTTP/1.1 101 \r\nupgrade: WebSocket\r\nconnection: upgrade\r\nsec-websocket-accept: \(Self.accept)\r\n\r\n"))
        #expect(try ClientHandshake.validate(lowercase, key: Self.key, requestedSubprotocols: []).get() == nil)
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\n\r\n", ClientHandshakeError.unexpectedStatus(200), [String]()),
        ("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", .missingUpgrade, []),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", .missingConnectionUpgrade, []),
        (switching(accept: "AAAAAAAAAAAAAAAAAAAAAAAAAAA="), .wrongAccept, []),
        (switching("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), .wrongAccept, []),
        (switching("Sec-WebSocket-Protocol: c\r\n"), .unrequestedSubprotocol("c"), ["a", "b"]),
        (switching("Sec-WebSocket-Protocol: a\r\n"), .unrequestedSubprotocol("a"), []),
        (switching("Sec-WebSocket-Protocol: a, b\r\n"), .unrequestedSubprotocol("a, b"), ["a", "b"]),
        (switching("Sec-WebSocket-Extensions: permessage-deflate\r\n"), .unrequestedExtensions("permessage-deflate"), []),
    ])
    func badResponsesAreRefused(text: String, error: ClientHandshakeError, requested: [String]) throws {
        let head = try #require(Self.response(text))
        #expect(throws: error) { try ClientHandshake.validate(head, key: Self.key, requestedSubprotocols: requested).get() }
    }

    @Test func theResponseParserLeavesFramesThatFollowTheHead() {
        let frameBytes: [UInt8] = [0x81, 0x02, 0x68, 0x69]
        let bytes = Array(Self.switching().utf8) + frameBytes
        for point in 0...bytes.count {
            var parser = HTTPResponseParser()
            let chunks = [Array(bytes[..<point]), Array(bytes[point...])]
            for (index, chunk) in chunks.enumerated() {
                let result = chunk.withUnsafeBytes { parser.parse($0) }
                if case .needMore = result { continue }
                guard case .complete(_, let consumed) = result else {
                    Issue.record("cut at \(point): \(result)")
                    break
                }
                #expect(Array(chunk[consumed...]) + chunks[(index + 1)...].flatMap { $0 } == frameBytes)
                break
            }
        }
    }

    @Test(arguments: [
        "HTTP/1.1 10 Short\r\n\r\n", "HTTP/1.1 1010 Long\r\n\r\n", "HTTP/1.1 abc X\r\n\r\n", "HTTP/1.1\r\n\r\n",
        "HTTP/1.1 101 OK\r\nBad Header\r\n\r\n", "HTTX/1.1 101 OK\r\n\r\n",
    ])
    func malformedResponsesFail(text: String) {
        var parser = HTTPResponseParser()
        #expect(Array(text.utf8).withUnsafeBytes { parser.parse($0) }.failedStatus == .badRequest)
    }

    @Test func aStatusLineWithoutReasonIsAccepted() {
        #expect(Self.response("HTTP/1.1 101\r\n\r\n")?.status == 101)
        var parser = HTTPResponseParser()
        #expect(Array("HTTP/2.0 101 X\r\n\r\n".utf8).withUnsafeBytes { parser.parse($0) }.failedStatus == .httpVersionNotSupported)
    }
}
