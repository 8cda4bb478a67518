/// One published message as the history keeps it.
public struct HistoryEntry: Sendable, Equatable {
    /// The message's position in its topic: 1 for the first, one more for each next.
    public let offset: UInt64
    /// Loop time (milliseconds) when it was published, for the age limit.
    public let publishedAt: Int64
    /// True for a text message (valid UTF-8), false for binary.
    public let isText: Bool
    public let payload: [UInt8]

    public init(offset: UInt64, publishedAt: Int64, isText: Bool, payload: [UInt8]) {
        self.offset = offset
        self.publishedAt = publishedAt
        self.isText = isText
        self.payload = payload
    }

    /// What the entry costs in memory, as the global history budget counts it: the payload
    /// plus the entry's own fields and the array header (an estimate of the allocator's share).
    var cost: Int { payload.count + Self.overhead }

    static let overhead = 64
}
