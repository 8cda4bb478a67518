/// Limits and timeouts of a server's plain HTTP requests (those that do not upgrade), and of
/// connections kept open between requests.
///
/// The request head is bounded by `WebSocketConfiguration.maxRequestHeadBytes` (431), and
/// each request, head and body, must arrive within `handshakeTimeoutMilliseconds` (408):
/// counted from accept for the first request, and from the request's first byte on a
/// connection kept alive.
public struct HTTPServerConfiguration: Sendable {
    /// Largest request body, after any chunked coding is removed; beyond it: 413, and the
    /// connection closes. Refused as soon as the length is known, before it is buffered.
    public var maxRequestBodyBytes = 1 << 20
    /// How long a connection may stay open between requests before it is closed quietly.
    /// 0 turns keep-alive off: every response closes its connection.
    public var keepAliveTimeoutMilliseconds: Int64 = 5_000

    /// The defaults.
    public init() {}
}
