/// A place in a topic's stream: the offset of the last message seen, and the epoch it
/// belongs to. Offsets mean something only within their epoch: a new epoch (the history was
/// created anew, e.g. after a restart) makes every older position meaningless.
public struct StreamPosition: Sendable, Hashable {
    public var offset: UInt64
    public var epoch: String

    public init(offset: UInt64, epoch: String) {
        self.offset = offset
        self.epoch = epoch
    }
}

/// What a subscriber that comes back at a position can get.
public enum Recovery: Sendable, Equatable {
    /// Every message after the position, in order (possibly none); live messages go on after
    /// `current.offset` with no gap.
    case recovered([HistoryEntry], current: StreamPosition)
    /// The history no longer reaches back that far, or the epoch changed: the subscriber
    /// must refetch its state; live messages go on after `current.offset`.
    case notRecoverable(current: StreamPosition)

    public var current: StreamPosition {
        switch self {
        case .recovered(_, let current), .notRecoverable(let current): current
        }
    }
}
