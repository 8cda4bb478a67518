/// An HTTP status code with its reason phrase.
@_spi(Internals)
public struct HTTPStatus: Hashable, Sendable {
    public var code: Int
    public var reasonPhrase: String

    static let switchingProtocols = HTTPStatus(code: 101, reasonPhrase: "Switching Protocols")
    static let badRequest = HTTPStatus(code: 400, reasonPhrase: "Bad Request")
    static let forbidden = HTTPStatus(code: 403, reasonPhrase: "Forbidden")
    static let notFound = HTTPStatus(code: 404, reasonPhrase: "Not Found")
    static let methodNotAllowed = HTTPStatus(code: 405, reasonPhrase: "Method Not Allowed")
    static let upgradeRequired = HTTPStatus(code: 426, reasonPhrase: "Upgrade Required")
    static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431, reasonPhrase: "Request Header Fields Too Large")
    static let internalServerError = HTTPStatus(code: 500, reasonPhrase: "Internal Server Error")
    static let notImplemented = HTTPStatus(code: 501, reasonPhrase: "Not Implemented")
    static let serviceUnavailable = HTTPStatus(code: 503, reasonPhrase: "Service Unavailable")
    static let httpVersionNotSupported = HTTPStatus(code: 505, reasonPhrase: "HTTP Version Not Supported")
}
