/// What every push connection of a server shares: the hub and the rules. One reference per
/// connection, so that a connection stays small.
final class PushEndpoint: Sendable {
    let hub: TopicHub
    /// Nil when the server takes no tokens (open mode).
    let tokens: TokenVerifier?
    let commandLimits: JSONLimits
    let maxSubscriptionsPerConnection: Int
    let maxConsecutiveErrors: Int
    /// The shared routes of the raw `/topics/NAME` connections.
    let rawTopicRoutes = RawTopicRoutes()

    init(hub: TopicHub, configuration: PushConfiguration) {
        self.hub = hub
        tokens = configuration.tokens
        commandLimits = JSONLimits(maximumDepth: 32, maximumBytes: configuration.maxCommandBytes)
        maxSubscriptionsPerConnection = configuration.maxSubscriptionsPerConnection
        maxConsecutiveErrors = configuration.maxConsecutiveErrors
    }

    /// Without tokens anyone may publish from a socket (the demo mode); with tokens only
    /// where a token's `publish` claim allows it.
    var openPublishing: Bool { tokens == nil }
}
