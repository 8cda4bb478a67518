import HTTP
/// A request as the server's router sees it.
public struct ServerRequest {
    /// The parsed request line and headers.
    public let head: HTTPRequestHead
    /// The context of the loop the request arrived on: pass it to the WebSocket you create.
    public let context: WebSocketContext
}

/// What the server does with a request: upgrade it to a WebSocket, or answer it over HTTP.
public enum ServerResponse {
    /// Accept the upgrade (after the RFC 6455 checks, which answer 400/405/426 on failure).
    /// `makeSocket` creates the connection object, typically a subclass of `WebSocket`.
    /// `subprotocol` must be one the client offered (`head.requestedSubprotocols`).
    case upgrade(subprotocol: String? = nil, makeSocket: (WebSocketContext) -> WebSocket)
    /// Answer with a plain HTTP response and close the connection.
    case http(status: HTTPStatus, headers: [(name: String, value: String)] = [], body: [UInt8] = [])

    /// A plain-text response (`text` as it is: end it with a line break if you want one).
    public static func text(_ status: HTTPStatus, _ text: String) -> ServerResponse {
        .http(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }

    /// 404 Not Found.
    public static var notFound: ServerResponse { .text(404, "not found\n") }
}
