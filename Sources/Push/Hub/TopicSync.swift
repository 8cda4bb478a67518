import Reactor
import WebSocket

/// Where a topic this node subscribes to stands against Redis (backplane mode only).
///
/// A topic is `syncing` from its first local subscriber until its position (and its
/// stream's messages, for topics with history) has been read from Redis, after its channel
/// is subscribed; then `live`. A message that arrives after a gap turns it `repairing` until
/// the missing messages are read back from the stream. Messages that arrive meanwhile are
/// held, and delivered in order afterwards.
enum TopicSync {
    case syncing(generation: UInt64, held: [BackplaneFrame], waiting: [SyncWaiter])
    case live
    case repairing(held: [BackplaneFrame])

    /// At most this many messages wait per topic while it syncs or repairs; more are dropped,
    /// which the next delivery sees as a gap that cannot be repaired (a reset).
    static let maxHeld = 10_000
}

/// A `/ws` subscription waiting for its topic's first read from Redis.
struct SyncWaiter {
    let since: StreamPosition?
    let loop: EventLoop
    let start: @Sendable (Recovery) -> Void
}

/// How a message from Redis relates to the last position this node delivered.
enum Arrival: Equatable {
    /// The next offset: deliver it.
    case next
    /// At or before the last delivered offset: delivered already (or read from the stream).
    case replay
    /// Offsets in between were missed.
    case gap(missing: ClosedRange<UInt64>)
    /// Another epoch: Redis lost the topic's keys, every older position is void.
    case newEpoch

    init(_ position: StreamPosition, after local: StreamPosition) {
        if position.epoch != local.epoch {
            self = .newEpoch
        } else if position.offset <= local.offset {
            self = .replay
        } else if position.offset == local.offset + 1 {
            self = .next
        } else {
            self = .gap(missing: (local.offset + 1)...(position.offset - 1))
        }
    }
}

extension StreamRange {
    /// The entries of the topic's current epoch that run without a gap up to its offset,
    /// as history entries aged on this process's clock (`now`, milliseconds).
    func currentTail(now: Int64) -> [HistoryEntry] {
        var start = entries.endIndex
        var expected = position.offset
        while start > entries.startIndex, entries[start - 1].offset == expected, entries[start - 1].epoch == position.epoch {
            start -= 1
            expected -= 1
        }
        return entries[start...].map { historyEntry($0, now: now) }
    }

    /// A stream entry as the history keeps it, published as long before `now` as Redis's
    /// clock says it was.
    func historyEntry(_ entry: Entry, now: Int64) -> HistoryEntry {
        let age = max(0, self.now &- entry.publishedAt)
        return HistoryEntry(offset: entry.offset, publishedAt: now &- age, isText: entry.kind == .text, payload: entry.payload)
    }

    /// What a subscriber at `since` recovers from this read of the stream followed by the
    /// local history (which runs up to `local.position(of:)`, where live messages go on):
    /// the same answer one node would give with the topic's `limits`.
    func recovery(since: StreamPosition, topic: String, local: HistoryStore, limits: HistoryLimits, now: Int64) -> Recovery {
        let current = local.position(of: topic)
        guard position.epoch == current.epoch, since.epoch == current.epoch, since.offset <= current.offset else {
            return .notRecoverable(current: current)
        }
        if let maxCount = limits.maxCount, current.offset - since.offset > UInt64(maxCount) { return .notRecoverable(current: current) }
        var missed: [HistoryEntry] = []
        var next = since.offset + 1
        for entry in entries where entry.offset >= next && entry.offset <= current.offset {
            let tooOld = limits.maxAgeMilliseconds.map { self.now &- entry.publishedAt >= $0 } ?? false
            guard entry.offset == next, entry.epoch == current.epoch, !tooOld else { return .notRecoverable(current: current) }
            missed.append(historyEntry(entry, now: now))
            next += 1
        }
        guard next <= current.offset else { return .recovered(missed, current: current) }
        // Newer than this read: the local history has them, or nobody does.
        guard case .recovered(let rest, _) = local.recover(topic, since: StreamPosition(offset: next - 1, epoch: current.epoch), now: now) else {
            return .notRecoverable(current: current)
        }
        return .recovered(missed + rest, current: current)
    }
}
