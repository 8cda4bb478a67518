/// The streams of one loop's topics: offsets, epochs and kept messages, under one memory
/// budget for all of them.
///
/// Each topic keeps what its `HistoryLimits` say. On top of that, `maxBytes` bounds the
/// whole store: when an append passes it, the oldest kept messages of the whole store go
/// first, whichever topic they belong to, and `messagesTrimmedEarly` counts them (a topic's
/// subscribers then recover less far back than its limits promise).
///
/// Finding the store-wide oldest message in O(1) takes a queue of (sequence, topic) records
/// in append order. A record goes stale when its message leaves by its own topic's limits;
/// stale records are skipped when met at the front, and the queue is rebuilt from the live
/// messages when stale ones outnumber them, so it never holds more than a few times the
/// messages kept.
///
/// Confined to the loop that owns these topics.
public final class HistoryStore {
    public let maxBytes: Int
    private let limitsForTopic: (String) -> HistoryLimits
    private let makeEpoch: () -> String
    private var topics: [String: TopicHistory] = [:]
    private var appendOrder = FIFO<(sequence: UInt64, topic: TopicHistory)>()
    private var nextSequence: UInt64 = 1
    /// What every topic's kept messages cost together.
    public private(set) var bytes = 0
    /// Messages dropped before their topic's limits said so, to stay within `maxBytes`.
    public private(set) var messagesTrimmedEarly = 0

    /// `limits` says how much each topic keeps (typically from patterns); `makeEpoch` names
    /// a new stream (random by default: a restarted server starts new epochs).
    public init(maxBytes: Int, limits: @escaping (String) -> HistoryLimits, makeEpoch: @escaping () -> String = HistoryStore.randomEpoch) {
        self.maxBytes = maxBytes
        self.limitsForTopic = limits
        self.makeEpoch = makeEpoch
    }

    /// The number of topics with a stream.
    public var topicCount: Int { topics.count }

    /// Messages kept over all topics.
    public private(set) var messageCount = 0

    /// Where `topic`'s stream stands (a new stream starts at offset 0 in a new epoch).
    public func position(of topic: String) -> StreamPosition {
        stream(topic).position
    }

    /// Gives a published message its offset, and keeps it if the topic's limits say so.
    public func append(_ topic: String, payload: [UInt8], isText: Bool, now: Int64) -> HistoryEntry {
        appendNext(to: stream(topic), payload: payload, isText: isText, now: now)
    }

    /// Keeps a message whose position was assigned elsewhere (by the Redis backplane). A new
    /// epoch starts the topic's stream anew; a position at or before the stream's last is a
    /// replay, and nil.
    public func append(_ topic: String, payload: [UInt8], isText: Bool, now: Int64, at position: StreamPosition) -> HistoryEntry? {
        var history = stream(topic)
        if history.epoch != position.epoch {
            accounting(history) { while $0.dropOldest() != nil {} }
            history = TopicHistory(name: topic, epoch: position.epoch, limits: limitsForTopic(topic))
            topics[topic] = history
        }
        guard position.offset > history.position.offset else { return nil }
        // Offsets this node never saw (published before it subscribed) are skipped, not kept.
        history.skip(to: position.offset - 1)
        return appendNext(to: history, payload: payload, isText: isText, now: now)
    }

    /// Starts `topic`'s stream anew at `position` (an epoch and offset read from Redis),
    /// keeping `entries`, which must be the messages right before it, oldest first. What the
    /// stream held before is dropped: it was a cache of an older read.
    public func restart(_ topic: String, at position: StreamPosition, with entries: [HistoryEntry]) {
        if let old = topics[topic] { accounting(old) { while $0.dropOldest() != nil {} } }
        let history = TopicHistory(name: topic, epoch: position.epoch, limits: limitsForTopic(topic))
        topics[topic] = history
        for entry in entries where entry.offset > history.position.offset && entry.offset <= position.offset {
            history.skip(to: entry.offset - 1)
            _ = appendNext(to: history, payload: entry.payload, isText: entry.isText, now: entry.publishedAt)
        }
        history.skip(to: position.offset)
    }

    /// The history limits of `topic`.
    public func limits(for topic: String) -> HistoryLimits {
        limitsForTopic(topic)
    }

    private func appendNext(to history: TopicHistory, payload: [UInt8], isText: Bool, now: Int64) -> HistoryEntry {
        let sequence = nextSequence
        nextSequence += 1
        let entry = accounting(history) { $0.append(payload: payload, isText: isText, now: now, sequence: sequence) }
        if history.entries.last?.sequence == sequence { appendOrder.append((sequence, history)) }
        enforceBudget()
        compactIfMostlyStale()
        return entry
    }

    /// The messages of `topic` after `since`, if they are all still kept.
    public func recover(_ topic: String, since: StreamPosition, now: Int64) -> Recovery {
        accounting(stream(topic)) { $0.recover(since: since, now: now) }
    }

    /// Drops the stream of a topic that nobody subscribes to and that keeps nothing, so idle
    /// topics cost nothing (its next message starts a new epoch).
    public func forget(_ topic: String) {
        guard let history = topics[topic], history.entries.isEmpty else { return }
        topics[topic] = nil
    }

    /// A random epoch: 16 hexadecimal digits.
    public static func randomEpoch() -> String {
        let value = UInt64.random(in: 0...UInt64.max)
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private func stream(_ topic: String) -> TopicHistory {
        if let history = topics[topic] { return history }
        let history = TopicHistory(name: topic, epoch: makeEpoch(), limits: limitsForTopic(topic))
        topics[topic] = history
        return history
    }

    /// Records in the append-order queue, live and stale (bounded by a few times `messageCount`).
    var appendOrderCount: Int { appendOrder.count }

    /// Runs `change` on one topic's stream and keeps the store's totals in step with it.
    @discardableResult
    private func accounting<Result>(_ history: TopicHistory, _ change: (TopicHistory) -> Result) -> Result {
        let (bytesBefore, countBefore) = (history.bytes, history.entries.count)
        let result = change(history)
        bytes += history.bytes - bytesBefore
        messageCount += history.entries.count - countBefore
        return result
    }

    /// Drops the store-wide oldest messages until the budget holds.
    private func enforceBudget() {
        while bytes > maxBytes, let (sequence, history) = appendOrder.removeFirst() {
            guard history.oldestSequence == sequence else { continue }  // left by its own limits
            accounting(history) { $0.dropOldest() }
            messagesTrimmedEarly += 1
        }
        // Records of messages gone by their topics' limits, met at the front: drop them now.
        while let (sequence, history) = appendOrder.first, history.oldestSequence.map({ $0 > sequence }) ?? true {
            appendOrder.removeFirst()
        }
    }

    /// Rebuilds the append-order queue from the live messages when stale records dominate.
    private func compactIfMostlyStale() {
        let live = messageCount
        guard appendOrder.count > 4 * live + 4096 else { return }
        var records: [(sequence: UInt64, topic: TopicHistory)] = []
        records.reserveCapacity(live)
        for history in topics.values {
            for index in 0..<history.entries.count { records.append((history.entries[index].sequence, history)) }
        }
        records.sort { $0.sequence < $1.sequence }
        appendOrder = FIFO()
        for record in records { appendOrder.append(record) }
    }
}
