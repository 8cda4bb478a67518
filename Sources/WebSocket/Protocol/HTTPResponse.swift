/// Builds the HTTP responses a WebSocket server sends: the 101 that
/// completes an upgrade, and plain responses for rejections.
///
/// Header fields given by the caller are sanitised by ``HTTPHeadWriter``.
enum HTTPResponse {
    typealias Fields = [(name: String, value: String)]

    /// `101 Switching Protocols` accepting a WebSocket upgrade (RFC 6455 §4.2.2).
    static func switchingProtocols(accept: String, subprotocol: String? = nil, extraHeaders: Fields = []) -> [UInt8] {
        var fields: Fields = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept),
        ]
        if let subprotocol {
            fields.append(("Sec-WebSocket-Protocol", subprotocol))
        }
        fields += extraHeaders
        return HTTPHeadWriter.head(startLine: "HTTP/1.1 101 Switching Protocols", fields: fields)
    }

    /// A complete response with a `Content-Length` body, and `Connection: close`
    /// when the server will close the connection after sending it.
    static func make(status: Int, reason: String, headers: Fields = [], body: [UInt8] = [], close: Bool = true) -> [UInt8] {
        var fields = headers
        fields.append(("Content-Length", String(body.count)))
        if close {
            fields.append(("Connection", "close"))
        }
        let statusLine = "HTTP/1.1 \(status) \(HTTPHeadWriter.sanitisedValue(reason))"
        return HTTPHeadWriter.head(startLine: statusLine, fields: fields) + body
    }

    static func make(status: HTTPStatus, headers: Fields = [], body: [UInt8] = [], close: Bool = true) -> [UInt8] {
        make(status: status.code, reason: status.reasonPhrase, headers: headers, body: body, close: close)
    }
}
