import Reactor
import Synchronization
import WebSocket

/// The one path every publication of a push server takes: it gets the next offset of its
/// topic (and a place in the topic's history), is encoded once for each kind of subscriber,
/// and is handed to every loop of the server, in offset order.
///
/// Order is the hub's promise: offsets are assigned, and the encoded message queued to each
/// loop, under one lock, so every loop receives a topic's messages in offset order whatever
/// loop (or thread) published them. A subscription that recovers from a position is queued
/// the same way (see `subscribe(_:to:since:)`), so it starts exactly where the history it was
/// given ends. The lock is taken once per publish and once per subscribe, never per
/// subscriber.
public final class TopicHub: Sendable {
    /// What the hub keeps under its lock.
    private struct State: ~Copyable {
        var history: HistoryStore
        /// Open subscriptions per topic, over all loops and both protocols.
        var subscribers: [String: Int] = [:]
    }

    private let state: Mutex<State>
    private let contexts: Mutex<[WebSocketContext]> = Mutex([])

    public init(history: sending HistoryStore) {
        state = Mutex(State(history: history))
    }

    /// The loops' contexts to deliver to; set once the server listens.
    func attach(_ attached: [WebSocketContext]) {
        contexts.withLock { $0 = attached }
    }

    /// The name under which `/ws` connections subscribe to a topic in a loop's topic registry,
    /// apart from raw `/topics` subscribers, since they receive the envelope, not the message.
    static func envelopeChannel(_ topic: String) -> String { "\u{0}" + topic }

    /// Publishes a message to `topic` from any thread. Returns its position and the number of
    /// subscriptions it was handed to.
    public func publish(_ topic: String, payload: [UInt8], kind: MessageKind, now: Int64 = MonotonicClock.milliseconds()) -> (position: StreamPosition, subscribers: Int) {
        let targets = contexts.withLock { $0 }
        return state.withLock { state in
            let entry = state.history.append(topic, payload: payload, isText: kind == .text, now: now)
            let position = StreamPosition(offset: entry.offset, epoch: state.history.position(of: topic).epoch)
            let subscribers = state.subscribers[topic] ?? 0
            guard subscribers > 0 else { return (position, 0) }
            let envelope = Envelope.message(topic: topic, entry: entry)
            let channel = Self.envelopeChannel(topic)
            // Queued under the lock: each loop's task queue is FIFO, so offset order holds.
            for context in targets {
                context.loop.execute {
                    payload.withUnsafeBytes { context.deliver(topic, $0, kind: kind) }
                    envelope.bytes.withUnsafeBytes { context.deliver(channel, $0, kind: envelope.kind) }
                }
            }
            return (position, subscribers)
        }
    }

    /// Where `topic` stands now, and how many subscriptions it has.
    public func status(of topic: String) -> (position: StreamPosition, subscribers: Int) {
        state.withLock { ($0.history.position(of: topic), $0.subscribers[topic] ?? 0) }
    }

    /// Registers a subscription (raw or `/ws`) for the counts; `unsubscribed` undoes it.
    func subscribed(_ topic: String) {
        state.withLock { $0.subscribers[topic, default: 0] += 1 }
    }

    func unsubscribed(_ topic: String) {
        state.withLock { state in
            let remaining = (state.subscribers[topic] ?? 1) - 1
            state.subscribers[topic] = remaining > 0 ? remaining : nil
            if remaining <= 0 { state.history.forget(topic) }
        }
    }

    /// Starts a `/ws` subscription on `loop`: `start` runs there with the recovery (every
    /// message after `since`, or only the current position when `since` is nil), queued
    /// under the lock behind every message already published, so that what it is given plus
    /// what arrives after it is the whole stream with no gap and no duplicate.
    func subscribe(on loop: EventLoop, to topic: String, since: StreamPosition?, now: Int64 = MonotonicClock.milliseconds(),
                   start: @escaping @Sendable (Recovery) -> Void) {
        state.withLock { state in
            state.subscribers[topic, default: 0] += 1
            // Without a position there is nothing to recover: the client starts from now.
            let recovery = since.map { state.history.recover(topic, since: $0, now: now) }
                ?? .notRecoverable(current: state.history.position(of: topic))
            loop.execute { start(recovery) }
        }
    }

    /// History figures, for metrics.
    public var historyFigures: (messages: Int, bytes: Int, trimmedEarly: Int) {
        state.withLock { ($0.history.messageCount, $0.history.bytes, $0.history.messagesTrimmedEarly) }
    }
}
