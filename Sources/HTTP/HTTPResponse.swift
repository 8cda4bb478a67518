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

    /// `100 Continue`: the client may send the body it announced with `Expect: 100-continue`.
    package static let continueHead = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// A complete response with a `Content-Length` body, and `Connection: close` when the
    /// server will close the connection after sending it. `keepAlive` adds
    /// `Connection: keep-alive`, which an HTTP/1.0 client needs to keep the connection open.
    /// Without `includeBody` (the answer to `HEAD`) the length is the body's, but the body
    /// is not sent (RFC 9110 §9.3.2).
    package static func make(
        status: HTTPStatus, headers: Fields = [], body: [UInt8] = [], close: Bool = true, keepAlive: Bool = false,
        includeBody: Bool = true
    ) -> [UInt8] {
        // Written straight into one array sized for it: the publish API answers every
        // request through here.
        let reason = status.reasonPhrase
        var bytes: [UInt8] = []
        bytes.reserveCapacity(
            64 + reason.utf8.count + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
                + (includeBody ? body.count : 0))
        bytes.append(contentsOf: "HTTP/1.1 ".utf8)
        HTTPHeadWriter.appendDecimal(status.code, to: &bytes)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: reason.utf8)
        HTTPHeadWriter.appendLineEnd(to: &bytes)
        for (name, value) in headers { HTTPHeadWriter.appendField(name: name, value: value, to: &bytes) }
        bytes.append(contentsOf: "Content-Length: ".utf8)
        HTTPHeadWriter.appendDecimal(body.count, to: &bytes)
        HTTPHeadWriter.appendLineEnd(to: &bytes)
        if close {
            bytes.append(contentsOf: "Connection: close\r\n".utf8)
        } else if keepAlive {
            bytes.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        HTTPHeadWriter.appendLineEnd(to: &bytes)
        if includeBody { bytes.append(contentsOf: body) }
        return bytes
    }

    /// The one plain-text response: `message` and a line end as a UTF-8 `text/plain` body.
    package static func plainText(status: HTTPStatus, _ message: String, headers: Fields = [], close: Bool = true) -> [UInt8] {
        make(
            status: status, headers: headers + [("Content-Type", "text/plain; charset=utf-8")],
            body: Array((message + "\n").utf8), close: close)
    }
}
