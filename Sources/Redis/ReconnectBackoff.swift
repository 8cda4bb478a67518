/// How long to wait before the next connection attempt: exponential from `base` up to
/// `limit`, each delay drawn at random from its upper half, so that many nodes that lost the
/// same server do not all knock again at the same instant.
public struct ReconnectBackoff: Sendable {
    public var base: Int64 = 100
    /// One second: a server back from a restart is found within about a second, and one
    /// attempt per second per connection costs nothing while it stays away.
    public var limit: Int64 = 1_000
    /// Failed attempts since the last success.
    public private(set) var failures = 0

    public init(base: Int64 = 100, limit: Int64 = 1_000) {
        self.base = base
        self.limit = limit
    }

    /// The delay before the next attempt, in milliseconds; counts one more failure.
    public mutating func nextDelay() -> Int64 {
        let ceiling = min(limit, base << Int64(min(failures, 20)))
        failures += 1
        return Int64.random(in: (ceiling / 2)...max(ceiling / 2, ceiling))
    }

    public mutating func reset() {
        failures = 0
    }
}
