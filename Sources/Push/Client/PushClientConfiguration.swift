import TLS
import WebSocket

/// Settings of a ``PushClient``.
public struct PushClientConfiguration: Sendable {
    /// The first reconnect waits between half and all of this; each failure in a row doubles it.
    public var backoffBaseMilliseconds: Int64 = 500
    /// The longest a reconnect waits (before jitter halves it at random).
    public var backoffCapMilliseconds: Int64 = 10_000
    /// For `wss://` URLs: the client TLS context; nil trusts the system's certificate store.
    public var tls: TLSContext?
    /// Bounds on each text reply the client parses (depth, size); a larger reply is malformed.
    public var replyLimits = JSONLimits.default

    public init() {}
}
