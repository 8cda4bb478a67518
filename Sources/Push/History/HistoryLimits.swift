/// How much history one topic keeps: the last `maxCount` messages and/or those younger than
/// `maxAgeMilliseconds`. Either bound may be absent; a topic with neither keeps no history
/// (its messages still get offsets, so a client can tell it missed something).
public struct HistoryLimits: Sendable, Equatable {
    public var maxCount: Int?
    public var maxAgeMilliseconds: Int64?

    public init(maxCount: Int? = nil, maxAgeMilliseconds: Int64? = nil) {
        self.maxCount = maxCount
        self.maxAgeMilliseconds = maxAgeMilliseconds
    }

    /// No history at all.
    public static let none = HistoryLimits()

    /// Whether any message is kept.
    public var keepsMessages: Bool {
        (maxCount ?? 1) > 0 && (maxAgeMilliseconds ?? 1) > 0 && (maxCount != nil || maxAgeMilliseconds != nil)
    }
}
