import Testing

@_spi(Internals) @testable import WebSocket
import HTTP

@Suite struct UpgradeRequestTests {
    static let validFields: [(name: String, value: String)] = [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]

    static func request(
        method: String = "GET", version: HTTPVersion = .http1_1,
        replacing name: String? = nil, with value: String? = nil, adding extra: [(name: String, value: String)] = []
    ) -> HTTPRequestHead {
        var fields = validFields.filter { $0.name != name }
        if let name, let value {
            fields.append((name, value))
        }
        return HTTPRequestHead(method: method, target: "/chat", version: version, headers: fields + extra)
    }

    static func rejection(_ head: HTTPRequestHead) -> HandshakeRejection? {
        if case .failure(let rejection) = UpgradeRequest.validate(head) { return rejection }
        return nil
    }

    @Test func aValidRequestYieldsItsKey() throws {
        #expect(try UpgradeRequest.validate(Self.request()).get() == "dGhlIHNhbXBsZSBub25jZQ==")
    }

    @Test func tokensAreMatchedInListsAndIgnoringCase() throws {
        // The websocket token may sit in any of several Upgrade fields.
        let head = Self.request(replacing: "Connection", with: "keep-alive, UPGRADE", adding: [("upgrade", "h2c")])
        #expect(Self.rejection(head) == nil)
        let lenient = HTTPRequestHead(
            method: "GET", target: "/", headers: [
                ("host", "a"), ("UPGRADE", "WebSocket"), ("connection", "keep-alive, upgrade"),
                ("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA=="), ("sec-websocket-version", "13"),
            ])
        #expect(try UpgradeRequest.validate(lenient).get() == "AAAAAAAAAAAAAAAAAAAAAA==")
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var head: HTTPRequestHead
        var status: HTTPStatus
        var header: (name: String, value: String)?

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "POST", head: request(method: "POST"), status: .methodNotAllowed, header: ("Allow", "GET")),
        Case(name: "HTTP/1.0", head: request(version: .http1_0), status: .badRequest),
        Case(name: "no Host", head: request(replacing: "Host"), status: .badRequest),
        Case(name: "two Hosts", head: request(adding: [("Host", "other")]), status: .badRequest),
        Case(name: "plain GET", head: HTTPRequestHead(method: "GET", target: "/", headers: [("Host", "a")]), status: .upgradeRequired, header: ("Upgrade", "websocket")),
        Case(name: "no Upgrade", head: request(replacing: "Upgrade"), status: .upgradeRequired, header: ("Upgrade", "websocket")),
        Case(name: "Upgrade to h2c", head: request(replacing: "Upgrade", with: "h2c"), status: .badRequest),
        Case(name: "no Connection", head: request(replacing: "Connection"), status: .badRequest),
        Case(name: "Connection: keep-alive", head: request(replacing: "Connection", with: "keep-alive"), status: .badRequest),
        Case(name: "no version", head: request(replacing: "Sec-WebSocket-Version"), status: .badRequest),
        Case(name: "version 8", head: request(replacing: "Sec-WebSocket-Version", with: "8"), status: .upgradeRequired, header: ("Sec-WebSocket-Version", "13")),
        Case(name: "two versions", head: request(adding: [("Sec-WebSocket-Version", "8")]), status: .upgradeRequired, header: ("Sec-WebSocket-Version", "13")),
        Case(name: "no key", head: request(replacing: "Sec-WebSocket-Key"), status: .badRequest),
        Case(name: "key of 15 bytes", head: request(replacing: "Sec-WebSocket-Key", with: "AAAAAAAAAAAAAAAAAAAA"), status: .badRequest),
        Case(name: "key of 17 bytes", head: request(replacing: "Sec-WebSocket-Key", with: "AAAAAAAAAAAAAAAAAAAAAAA="), status: .badRequest),
        Case(name: "key not base64", head: request(replacing: "Sec-WebSocket-Key", with: "!!!!!!!!!!!!!!!!!!!!!!=="), status: .badRequest),
        Case(name: "two keys", head: request(adding: [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]), status: .badRequest),
        Case(name: "a body", head: request(adding: [("Content-Length", "5")]), status: .badRequest),
        Case(name: "chunked", head: request(adding: [("Transfer-Encoding", "chunked")]), status: .badRequest),
    ]

    @Test(arguments: cases)
    func rejections(_ testCase: Case) throws {
        let rejection = try #require(Self.rejection(testCase.head))
        #expect(rejection.status == testCase.status)
        if let header = testCase.header {
            #expect(rejection.headers.contains { $0.name == header.name && $0.value == header.value })
        }
        let response = String(decoding: rejection.response, as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 \(testCase.status.code) \(testCase.status.reasonPhrase)\r\n"))
        #expect(response.contains("\r\nConnection: close\r\n"))
        #expect(response.hasSuffix("\r\n\r\n" + rejection.message + "\n"))
    }

    @Test func anEmptyBodyIsFine() {
        #expect((try? UpgradeRequest.validate(Self.request(adding: [("Content-Length", "0")])).get()) != nil)
    }

    @Test func aParsedRequestValidatesEndToEnd() throws {
        var parser = HTTPRequestParser()
        let text = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v2.chat, v1.chat\r\n\r\n"
        guard case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("the request must parse")
            return
        }
        let key = try UpgradeRequest.validate(head).get()
        #expect(head.requestedSubprotocols == ["v2.chat", "v1.chat"])
        let response = String(decoding: HTTPResponse.switchingProtocols(accept: Handshake.acceptValue(forKey: key), subprotocol: "v1.chat"), as: UTF8.self)
        #expect(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
    }
}
