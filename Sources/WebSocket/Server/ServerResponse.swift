import HTTP

/// What the server does with a request: upgrade it to a WebSocket, or answer it over HTTP.
public enum ServerResponse {
    /// Accept the upgrade (after the RFC 6455 checks, which answer 400/405/426 on failure).
    /// `makeSocket` creates the connection object, typically a subclass of `WebSocket`.
    /// `subprotocol` must be one the client offered (`head.requestedSubprotocols`).
    case upgrade(subprotocol: String? = nil, makeSocket: (WebSocketContext) -> WebSocket)
    /// Answer with an HTTP response. `Content-Length` is added; the connection stays open for
    /// the client's next request unless the client asked to close it (`Connection: close`,
    /// or HTTP/1.0 without keep-alive), the server is draining, or `headers` hold
    /// `Connection: close` — then `Connection: close` is sent and it closes. The answer to a
    /// `HEAD` request is sent without `body`.
    case http(status: HTTPStatus, headers: [(name: String, value: String)] = [], body: [UInt8] = [])

    /// A plain-text response (`text` as it is: end it with a line break if you want one).
    public static func text(_ status: HTTPStatus, _ text: String) -> ServerResponse {
        .http(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }

    /// 404 Not Found.
    public static var notFound: ServerResponse { .text(404, "not found\n") }

    /// 405 Method Not Allowed, with the `Allow` field RFC 9110 §15.5.6 requires.
    public static func methodNotAllowed(allowing methods: [String]) -> ServerResponse {
        .http(
            status: .methodNotAllowed,
            headers: [("Allow", methods.joined(separator: ", ")), ("Content-Type", "text/plain; charset=utf-8")],
            body: Array("method not allowed\n".utf8))
    }
}
