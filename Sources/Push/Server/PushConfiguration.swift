import Redis

/// The settings of a push server.
public struct PushConfiguration: Sendable {
    /// Which topics keep how much history (the first matching rule counts).
    public var history: [HistoryRule] = []
    /// One budget for the history of all topics together.
    public var historyMaxBytes = 64 << 20
    /// Verifies connection tokens. Nil: the server takes none, every connection may
    /// subscribe and publish anywhere (a demo mode; a warning says so at startup).
    public var tokens: TokenVerifier?
    /// Keys for the HTTP publish API. Empty: the API answers 403 to everything, so it is
    /// never open by accident.
    public var apiKeys = APIKeys()
    /// Origins allowed to open WebSockets (`https://*.example.com`). Empty: any origin.
    public var allowedOrigins: [OriginPattern] = []
    /// Serve `GET /demo/token`, which hands out tokens signed with the first token secret.
    /// For demonstrations only: a real deployment mints tokens in its own backend.
    public var demoTokens = false
    public var maxSubscriptionsPerConnection = 1_000
    /// The largest `/ws` command, in bytes.
    public var maxCommandBytes = 64 * 1024
    /// Bad commands in a row before a `/ws` connection is closed with 1008.
    public var maxConsecutiveErrors = 10
    /// Redis servers that join this process's topics with other processes' (a topic lives on
    /// one of them, by a consistent hash of its name). Empty: topics are this process's own.
    /// A password comes from the URL or `PUSHWAVE_REDIS_PASSWORD`.
    public var redis: [RedisURL] = []
    /// Publications waiting for Redis (while it is unreachable, or slow) before more are
    /// refused.
    public var redisMaxPending = 10_000
    /// Seconds between `PING`s on each Redis subscriber connection, which is replaced (and the
    /// node reports degraded meanwhile) when one goes unanswered for as long. 0: never.
    public var redisProbeInterval = 3.0

    public init() {}
}
