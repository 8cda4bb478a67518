import WebSocket

/// The close codes of the push server, in the private range (RFC 6455 §7.4.2).
public enum PushCloseCode {
    /// The connection's token expired and was not refreshed.
    public static let tokenExpired = CloseCode(4401)
    /// A raw `/topics` or `/chat` connection published where its token does not allow it.
    public static let publishNotAllowed = CloseCode(4403)
}
