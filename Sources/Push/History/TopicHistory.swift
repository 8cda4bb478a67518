/// The stream of one topic: its epoch, the offset of its last message, and the messages the
/// limits keep, oldest first. Confined to the loop that owns the topic.
final class TopicHistory {
    let name: String
    let epoch: String
    let limits: HistoryLimits
    /// The offset of the last published message (0 before the first).
    private(set) var lastOffset: UInt64 = 0
    /// Kept messages with the store-wide sequence number of their append (see `HistoryStore`).
    private(set) var entries = FIFO<(entry: HistoryEntry, sequence: UInt64)>()
    /// What `entries` cost, as `HistoryEntry.cost` counts it.
    private(set) var bytes = 0

    init(name: String, epoch: String, limits: HistoryLimits) {
        self.name = name
        self.epoch = epoch
        self.limits = limits
    }

    var position: StreamPosition { StreamPosition(offset: lastOffset, epoch: epoch) }

    /// Gives the message the next offset and keeps it if the limits say so; `sequence`
    /// orders appends across the store's topics.
    func append(payload: [UInt8], isText: Bool, now: Int64, sequence: UInt64) -> HistoryEntry {
        lastOffset += 1
        guard limits.keepsMessages else {
            return HistoryEntry(offset: lastOffset, publishedAt: now, isText: isText, payload: payload)
        }
        // Encoded once here, sent as it is to every client that recovers it (and to the live
        // subscribers now): recovery costs a copy per client, not an encoding.
        let entry = HistoryEntry(topic: name, offset: lastOffset, publishedAt: now, isText: isText, payload: payload)
        entries.append((entry, sequence))
        bytes += entry.cost
        trim(now: now)
        return entry
    }

    /// Moves the last offset forward to `offset` (never back) without a message: the next
    /// append gets `offset + 1`. A subscriber recovering from before it is told the history
    /// does not reach back that far.
    func skip(to offset: UInt64) {
        lastOffset = max(lastOffset, offset)
    }

    /// The store-wide sequence number of the oldest kept message.
    var oldestSequence: UInt64? { entries.first?.sequence }

    /// Drops what the count and age limits no longer keep.
    func trim(now: Int64) {
        if let maxCount = limits.maxCount {
            while entries.count > maxCount { dropOldest() }
        }
        if let maxAge = limits.maxAgeMilliseconds {
            while let oldest = entries.first, now - oldest.entry.publishedAt >= maxAge { dropOldest() }
        }
    }

    /// Drops the oldest kept message (to meet a limit, or the global budget).
    @discardableResult
    func dropOldest() -> HistoryEntry? {
        guard let dropped = entries.removeFirst() else { return nil }
        bytes -= dropped.entry.cost
        return dropped.entry
    }

    /// The messages after `since`, if the history still has all of them.
    func recover(since: StreamPosition, now: Int64) -> Recovery {
        trim(now: now)
        guard since.epoch == epoch, since.offset <= lastOffset else { return .notRecoverable(current: position) }
        if since.offset == lastOffset { return .recovered([], current: position) }
        guard let oldest = entries.first, oldest.entry.offset <= since.offset + 1 else {
            return .notRecoverable(current: position)
        }
        let start = entries.partitionIndex { $0.entry.offset > since.offset }
        let missed = (start..<entries.count).map { entries[$0].entry }
        return .recovered(missed, current: position)
    }
}
