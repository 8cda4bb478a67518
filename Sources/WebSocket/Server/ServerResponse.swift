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
    case http(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [])

    /// A plain-text response.
    public static func text(_ status: Int, _ text: String) -> ServerResponse {
        .http(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }

    /// 404 Not Found.
    public static var notFound: ServerResponse { .text(404, "not found\n") }
}

/// The reason phrase of the statuses a server commonly sends.
func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 200: "OK"
    case 204: "No Content"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 408: "Request Timeout"
    case 426: "Upgrade Required"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 500: "Internal Server Error"
    case 503: "Service Unavailable"
    default: "Status \(status)"
    }
}
