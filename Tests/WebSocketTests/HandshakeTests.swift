import Testing

@_spi(Internals) @testable import WebSocket
import HTTP

@Suite struct HandshakeTests {
    @Test func theRFCExampleKey() {
        // RFC 6455 §1.3 (and `openssl sha1 -binary | base64` on key + GUID).
        #expect(Handshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func switchingProtocolsNamesTheAcceptValueAndSubprotocol() {
        let response = String(decoding: HTTPResponse.switchingProtocols(accept: "s3pPLMBiTxaQ9kYGzzhZxo+BOo0=", subprotocol: "chat"), as: UTF8.self)
        #expect(response == """
            HTTP/1.1 101 Switching Protocols\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZxo+BOo0=\r
            Sec-WebSocket-Protocol: chat\r
            \r

            """)
        let plain = String(decoding: HTTPResponse.switchingProtocols(accept: "x", extraHeaders: [("X-Server", "pushwave")]), as: UTF8.self)
        #expect(!plain.contains("Sec-WebSocket-Protocol"))
        #expect(plain.hasSuffix("Sec-WebSocket-Accept: x\r\nX-Server: pushwave\r\n\r\n"))
    }

    @Test func plainResponsesHaveALengthAndCanClose() {
        let response = String(decoding: HTTPResponse.make(status: 404, headers: [("Content-Type", "text/plain")], body: Array("nope".utf8), close: true), as: UTF8.self)
        #expect(response == "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope")
        let keepOpen = String(decoding: HTTPResponse.make(status: .serviceUnavailable, close: false), as: UTF8.self)
        #expect(keepOpen == "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func headerFieldsCannotInjectLines() {
        let response = String(
            decoding: HTTPResponse.make(
                status: 400,
                headers: [("X-Evil", "a\r\nSet-Cookie: b"), ("Bad Name", "dropped"), ("", "dropped")]),
            as: UTF8.self)
        #expect(response == "HTTP/1.1 400 Bad Request\r\nX-Evil: a  Set-Cookie: b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    /// Every status the parsers and the server send has its own reason phrase (a 505 once
    /// went out as `505 Status 505`).
    @Test func everyStatusTheServerSendsHasItsReasonPhrase() {
        let sent: [HTTPStatus] = [101, 200, 400, 401, 403, 404, 405, 408, 413, 426, 431, 500, 501, 503, 505]
        for status in sent {
            #expect(!status.reasonPhrase.hasPrefix("Status"), "\(status.code)")
        }
        #expect(HTTPStatus.httpVersionNotSupported.reasonPhrase == "HTTP Version Not Supported")
        #expect(HTTPStatus.notImplemented.reasonPhrase == "Not Implemented")
        #expect(HTTPStatus(code: 299).reasonPhrase == "Status 299")
        let response = String(decoding: HTTPResponse.plainText(status: .httpVersionNotSupported, "no"), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
        #expect(response.hasSuffix("\r\n\r\nno\n"))
    }
}
