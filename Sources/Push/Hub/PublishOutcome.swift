/// What became of a publication handed to `TopicHub.submit`.
public enum PublishOutcome: Sendable, Equatable {
    /// Delivered in this process (no backplane): its position, and the subscriptions it was
    /// handed to.
    case published(StreamPosition, subscribers: Int)
    /// Handed to the Redis backplane, which assigns its position; it reaches this process's
    /// subscribers when it comes back.
    case forwarded
    /// The backplane is unreachable and its queue is full: try again later.
    case refused
}
