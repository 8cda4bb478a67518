/// Why a command got no reply.
public enum RedisError: Error, Equatable, CustomStringConvertible {
    /// The server is unreachable and the queue of commands waiting for it is full.
    case queueFull
    /// The connection closed after the command was sent; whether it ran is unknown.
    case connectionLost
    /// The connection was stopped for good.
    case stopped

    public var description: String {
        switch self {
        case .queueFull: "too many commands are waiting for Redis"
        case .connectionLost: "the connection to Redis was lost"
        case .stopped: "the Redis connection is stopped"
        }
    }
}
