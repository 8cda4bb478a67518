/// Builds the HTTP responses a server sends: the 101 that completes an upgrade, and
/// complete responses with a body.
///
/// Header fields given by the caller are sanitised by ``HTTPHeadWriter``.
package enum HTTPResponse {
    package typealias Fields = [(name: String, value: String)]

    /// `101 Switching Protocols` accepting a WebSocket upgrade (RFC 6455 §4.2.2).
    package static func switchingProtocols(accept: String, subprotocol: String? = nil, extraHeaders: Fields = []) -> [UInt8] {
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
    package static func make(status: HTTPStatus, headers: Fields = [], body: [UInt8] = [], close: Bool = true) -> [UInt8] {
        var fields = headers
        fields.append(("Content-Length", String(body.count)))
        if close {
            fields.append(("Connection", "close"))
        }
        let statusLine = "HTTP/1.1 \(status.code) \(status.reasonPhrase)"
        return HTTPHeadWriter.head(startLine: statusLine, fields: fields) + body
    }

    /// The one plain-text response: `message` and a line end as a UTF-8 `text/plain` body.
    package static func plainText(status: HTTPStatus, _ message: String, headers: Fields = [], close: Bool = true) -> [UInt8] {
        make(
            status: status, headers: headers + [("Content-Type", "text/plain; charset=utf-8")],
            body: Array((message + "\n").utf8), close: close)
    }
}
