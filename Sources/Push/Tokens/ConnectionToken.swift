/// What a verified token grants a connection: who it is and which topics it may subscribe
/// to and publish on.
public struct ConnectionToken: Sendable, Equatable {
    /// `sub`: who the token was issued to, if it says.
    public let subject: String?
    /// `exp`, in seconds since 1970-01-01 UTC: when the token stops being accepted.
    public let expiresAt: Double?
    /// `nbf`, in seconds since 1970-01-01 UTC: when the token starts being accepted.
    public let notBefore: Double?
    /// `iat`, in seconds since 1970-01-01 UTC: when the token was issued.
    public let issuedAt: Double?
    /// `topics`: what the connection may subscribe to.
    public let subscribePatterns: [TopicPattern]
    /// `publish`: what the connection may publish on; none when the claim is absent.
    public let publishPatterns: [TopicPattern]

    /// A token granting what the arguments say.
    public init(
        subject: String? = nil, expiresAt: Double? = nil, notBefore: Double? = nil, issuedAt: Double? = nil,
        subscribePatterns: [TopicPattern] = [], publishPatterns: [TopicPattern] = []
    ) {
        self.subject = subject
        self.expiresAt = expiresAt
        self.notBefore = notBefore
        self.issuedAt = issuedAt
        self.subscribePatterns = subscribePatterns
        self.publishPatterns = publishPatterns
    }

    /// Whether the connection may subscribe to `topic`.
    public func maySubscribe(_ topic: String) -> Bool {
        subscribePatterns.grants(topic)
    }

    /// Whether the connection may publish on `topic`.
    public func mayPublish(_ topic: String) -> Bool {
        publishPatterns.grants(topic)
    }
}
