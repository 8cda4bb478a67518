import Reactor

/// The endpoint a `/ws` connection serves and what it may do there, behind one reference
/// (two would put `PushSocket` in the allocator's next block: `SocketFootprintTests`).
///
/// Connections without a token share one (``tokenless(_:)``, kept by the server); a
/// connection with a token has its own, made from the token — only what is checked after
/// the handshake: the token's patterns and expiry — with the timer that ends it.
final class PushAccess: @unchecked Sendable {
    let endpoint: PushEndpoint
    /// Nil without a token: any topic.
    private let subscribePatterns: [TopicPattern]?
    /// Nil without a token: anyone may publish in open mode, no one with tokens required.
    private let publishPatterns: [TopicPattern]?
    let expiresAt: Double?
    /// The timer that closes the connection when the token expires. Set only on a
    /// connection's own access (never on the shared tokenless one, which has no expiry), on
    /// the connection's loop: hence `@unchecked Sendable`.
    var expiryTimer: TimerHandle?

    /// The access every connection without a token shares.
    static func tokenless(_ endpoint: PushEndpoint) -> PushAccess {
        PushAccess(endpoint: endpoint, subscribePatterns: nil, publishPatterns: nil, expiresAt: nil)
    }

    /// A connection's own access, granted by its token.
    convenience init(endpoint: PushEndpoint, token: ConnectionToken) {
        self.init(
            endpoint: endpoint, subscribePatterns: token.subscribePatterns,
            publishPatterns: token.publishPatterns, expiresAt: token.expiresAt)
    }

    private init(endpoint: PushEndpoint, subscribePatterns: [TopicPattern]?, publishPatterns: [TopicPattern]?, expiresAt: Double?) {
        self.endpoint = endpoint
        self.subscribePatterns = subscribePatterns
        self.publishPatterns = publishPatterns
        self.expiresAt = expiresAt
    }

    func maySubscribe(_ topic: String) -> Bool {
        subscribePatterns?.grants(topic) ?? true
    }

    func mayPublish(_ topic: String) -> Bool {
        publishPatterns?.grants(topic) ?? endpoint.openPublishing
    }
}
