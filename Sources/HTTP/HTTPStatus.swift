/// An HTTP status code, with the reason phrase a server sends for it.
///
/// The one status type of the package: parsers report failures with it, routes answer
/// with it (`.text(404, "not found\n")` reads as `HTTPStatus(code: 404)` through the
/// integer literal), and responses are written from it.
public struct HTTPStatus: Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// The three-digit status code.
    public var code: Int

    /// The status with this code.
    public init(code: Int) {
        self.code = code
    }

    /// The status with this code, written as a literal (`404`).
    public init(integerLiteral code: Int) {
        self.code = code
    }

    /// The reason phrase of RFC 9110 §15 for the statuses this package sends; `Status N`
    /// for any other (the phrase is informative only: clients act on the code).
    public var reasonPhrase: String {
        switch code {
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(code)"
        }
    }

    /// The code and its reason phrase, as in a status line: `404 Not Found`.
    public var description: String { "\(code) \(reasonPhrase)" }

    /// 101: the WebSocket upgrade succeeded.
    public static let switchingProtocols: HTTPStatus = 101
    /// 200.
    public static let ok: HTTPStatus = 200
    /// 400: a malformed request or upgrade.
    public static let badRequest: HTTPStatus = 400
    /// 401: missing or invalid credentials.
    public static let unauthorized: HTTPStatus = 401
    /// 403: refused, e.g. by the origin check.
    public static let forbidden: HTTPStatus = 403
    /// 404.
    public static let notFound: HTTPStatus = 404
    /// 405: an upgrade request that is not a GET.
    public static let methodNotAllowed: HTTPStatus = 405
    /// 408: the request did not arrive within the handshake timeout.
    public static let requestTimeout: HTTPStatus = 408
    /// 413: a body over the configured limit.
    public static let contentTooLarge: HTTPStatus = 413
    /// 426: a WebSocket version other than 13.
    public static let upgradeRequired: HTTPStatus = 426
    /// 431: a request head over the configured limit.
    public static let requestHeaderFieldsTooLarge: HTTPStatus = 431
    /// 500.
    public static let internalServerError: HTTPStatus = 500
    /// 501: a transfer coding other than chunked.
    public static let notImplemented: HTTPStatus = 501
    /// 503: too many connections, or the server is draining.
    public static let serviceUnavailable: HTTPStatus = 503
    /// 505: a request that is not HTTP/1.x.
    public static let httpVersionNotSupported: HTTPStatus = 505
}
