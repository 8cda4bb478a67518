import Testing

@testable import HTTP
import TestSupport

@Suite struct HTTPRequestParserTests {
    static let upgrade = """
        GET /chat?room=1 HTTP/1.1\r
        Host: server.example.com\r
        Upgrade: websocket\r
        Connection: Upgrade\r
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
        Origin: http://example.com\r
        Sec-WebSocket-Protocol: chat, superchat\r
        Sec-WebSocket-Version: 13\r
        \r

        """

    /// Feeds `chunks` in order; returns the first result that is not `.needMore`,
    /// with the index of the chunk that produced it.
    static func parse(_ chunks: [[UInt8]], maxHeaderBytes: Int = 8192) -> (HTTPParseResult<HTTPRequestHead>, chunk: Int) {
        var parser = HTTPRequestParser(maxHeaderBytes: maxHeaderBytes)
        for (index, chunk) in chunks.enumerated() {
            let result = chunk.withUnsafeBytes { parser.parse($0) }
            if case .needMore = result { continue }
            return (result, index)
        }
        return (.needMore, chunks.count)
    }

    static func head(_ text: String) -> HTTPRequestHead? {
        if case .complete(let head, _) = parse([Array(text.utf8)]).0 { return head }
        return nil
    }

    static func failure(_ text: String, maxHeaderBytes: Int = 8192) -> HTTPStatus? {
        if case .failed(let status) = parse([Array(text.utf8)], maxHeaderBytes: maxHeaderBytes).0 { return status }
        return nil
    }

    @Test func theRFCExampleRequest() throws {
        let head = try #require(Self.head(Self.upgrade))
        #expect(head.method == "GET")
        #expect(head.target == "/chat?room=1")
        #expect(head.path == "/chat")
        #expect(head.query == "room=1")
        #expect(head.version == .http1_1)
        #expect(head.headers.count == 7)
        #expect(head.headers[0].name == "Host" && head.headers[0].value == "server.example.com")
        #expect(head.value("host") == "server.example.com")
        #expect(head.value("SEC-WEBSOCKET-KEY") == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(head.value("Missing") == nil)
        #expect(head.hasToken("upgrade", in: "connection"))
        #expect(head.hasToken("WebSocket", in: "Upgrade"))
        #expect(!head.hasToken("close", in: "Connection"))
        #expect(head.requestedSubprotocols == ["chat", "superchat"])
    }

    @Test func everySplitPointGivesTheSameHead() throws {
        let bytes = Array(Self.upgrade.utf8)
        for point in 0...bytes.count {
            let (result, chunk) = Self.parse([Array(bytes[..<point]), Array(bytes[point...])])
            guard case .complete(let head, let consumed) = result else {
                Issue.record("cut at \(point): \(result)")
                continue
            }
            #expect(head.headers.count == 7)
            #expect(consumed == (chunk == 0 ? point : bytes.count - point))
        }
        let (result, _) = Self.parse(bytes.map { [$0] })
        guard case .complete(let head, let consumed) = result else {
            Issue.record("byte at a time: \(result)")
            return
        }
        #expect(head.value("Origin") == "http://example.com")
        #expect(consumed == 1)
    }

    @Test func bytesAfterTheHeadAreLeftForTheCaller() {
        let eagerFrame: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        let bytes = Array(Self.upgrade.utf8) + eagerFrame
        for point in 0...bytes.count {
            let chunks = [Array(bytes[..<point]), Array(bytes[point...])]
            let (result, chunk) = Self.parse(chunks)
            guard case .complete(_, let consumed) = result else {
                Issue.record("cut at \(point): \(result)")
                continue
            }
            // What the parser did not take, plus any later chunk, is exactly the frame.
            let leftOver = Array(chunks[chunk][consumed...]) + chunks[(chunk + 1)...].flatMap { $0 }
            #expect(leftOver == eagerFrame, "cut at \(point)")
        }
    }

    @Test func theParserDoesNotKeepMoreThanTheHead() {
        var parser = HTTPRequestParser()
        let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8)
        #expect(bytes.withUnsafeBytes { parser.parse($0) }.isNeedMore)
        #expect(parser.bufferedByteCount == bytes.count)
        #expect(Array("\r\n".utf8).withUnsafeBytes { parser.parse($0) }.isComplete)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func oversizedHeadsGet431() {
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "x", count: 9000))\r\n\r\n"
        #expect(Self.failure(big) == .requestHeaderFieldsTooLarge)
        let exact = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(Self.failure(exact, maxHeaderBytes: exact.utf8.count - 1) == .requestHeaderFieldsTooLarge)
        #expect(Self.head(exact) != nil)
        var parser = HTTPRequestParser(maxHeaderBytes: exact.utf8.count)
        #expect(Array(exact.utf8).withUnsafeBytes { parser.parse($0) }.isComplete)
        // Arriving slowly makes no difference.
        let (slow, _) = Self.parse(Array(big.utf8).map { [$0] })
        #expect(slow.failedStatus == .requestHeaderFieldsTooLarge)
    }

    @Test func bareLineFeedsAreAccepted() throws {
        let head = try #require(Self.head("GET /a HTTP/1.1\nHost: x\nUpgrade: websocket\n\n"))
        #expect(head.value("Upgrade") == "websocket")
        #expect(Self.head("GET /a HTTP/1.1\r\nHost: x\n\r\n")?.value("Host") == "x")
    }

    @Test func oneLeadingEmptyLineIsIgnored() {
        #expect(Self.head("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")?.method == "GET")
    }

    @Test func fieldValuesAreTrimmedAndNamesKeepTheirCase() throws {
        let head = try #require(Self.head("GET / HTTP/1.1\r\nhOsT: \t spaced out \t\r\nEmpty:\r\n\r\n"))
        #expect(head.headers[0].name == "hOsT")
        #expect(head.headers[0].value == "spaced out")
        #expect(head.value("empty") == "")
    }

    @Test func repeatedFieldsAreKeptInOrderAndTokensSpanThem() throws {
        let head = try #require(Self.head("GET / HTTP/1.1\r\nConnection: keep-alive\r\nX: 1\r\nconnection: , Upgrade ,\r\n\r\n"))
        #expect(head.values("Connection") == ["keep-alive", ", Upgrade ,"])
        #expect(head.value("Connection") == "keep-alive")
        #expect(head.hasToken("upgrade", in: "Connection"))
        #expect(head.hasToken("KEEP-ALIVE", in: "Connection"))
        #expect(!head.hasToken("", in: "Connection"))
    }

    @Test(arguments: [
        ("/", "/", nil as String?), ("/a/b?", "/a/b", ""), ("/?x=1&y=2", "/", "x=1&y=2"),
        ("http://host:80/chat?q", "/chat", "q"), ("http://host", "/", nil), ("http://host?q", "/", "q"), ("*", "*", nil),
    ])
    func targetsSplitIntoPathAndQuery(target: String, path: String, query: String?) {
        let head = HTTPRequestHead(method: "GET", target: target, headers: [])
        #expect(head.path == path)
        #expect(head.query == query)
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",  // space before the colon
        "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",  // obsolete line folding
        "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\u{1}b\r\n\r\n",  // control character
        "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",  // bare CR
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET /\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET /a\u{7F} HTTP/1.1\r\n\r\n",
        "GET / HTTP/1\r\n\r\n",
        "GET / HTTP/1.10\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET / HTTP/x.1\r\n\r\n",
        "\r\n\r\n",
    ])
    func malformedHeadsGet400(text: String) {
        #expect(Self.failure(text) == .badRequest)
    }

    @Test(arguments: ["GET / HTTP/2.0\r\n\r\n", "GET / HTTP/0.9\r\n\r\n", "GET / HTTP/3.0\r\nHost: a\r\n\r\n"])
    func otherVersionsGet505(text: String) {
        #expect(Self.failure(text) == .httpVersionNotSupported)
    }

    @Test func aCompletedParserStartsOverForTheNextRequest() {
        var parser = HTTPRequestParser()
        let first = Array("GET /one HTTP/1.1\r\n\r\n".utf8)
        let second = Array("GET /two HTTP/1.0\r\n\r\n".utf8)
        guard case .complete(let one, _) = first.withUnsafeBytes({ parser.parse($0) }),
            case .complete(let two, _) = second.withUnsafeBytes({ parser.parse($0) })
        else {
            Issue.record("expected two heads")
            return
        }
        #expect(one.path == "/one" && two.path == "/two")
        #expect(two.version == .http1_0)
    }

    @Test func obsTextIsKeptAsReplacementCharacters() {
        #expect(Self.head("GET / HTTP/1.1\r\nX: caf\u{E9}\r\n\r\n")?.value("X") == "café")
        let latin1 = Array("GET / HTTP/1.1\r\nX: caf".utf8) + [0xE9] + Array("\r\n\r\n".utf8)
        guard case .complete(let head, _) = Self.parse([latin1]).0 else {
            Issue.record("obs-text must be accepted")
            return
        }
        #expect(head.value("X") == "caf\u{FFFD}")
    }
}
