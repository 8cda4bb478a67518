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
    struct State: ~Copyable {
        var history: HistoryStore
        /// Open subscriptions per topic, over all loops and both protocols.
        var subscribers: [String: Int] = [:]
        /// With a backplane: where each subscribed topic stands against Redis.
        var sync: [String: TopicSync] = [:]
        /// Numbers the reads that sync a topic, so that a late answer to an earlier one is
        /// recognised.
        var nextSyncGeneration: UInt64 = 1
        /// The hub's share of the backplane's figures (repairs, gaps, resets).
        var figures = BackplaneFigures()
    }

    /// Where publications go, set once the server listens.
    private struct Links {
        var contexts: [WebSocketContext] = []
        /// With Redis, publications go there and come back through `deliver(_:_:)`.
        var backplane: RedisBackplane?
    }

    let state: Mutex<State>
    private let links: Mutex<Links> = Mutex(Links())

    public init(history: sending HistoryStore) {
        state = Mutex(State(history: history))
    }

    /// The loops' contexts to deliver to; set once the server listens.
    func attach(_ attached: [WebSocketContext]) {
        links.withLock { $0.contexts = attached }
    }

    /// Sends publications through `backplane` from now on (before the first subscription).
    func attach(_ backplane: RedisBackplane) {
        links.withLock { $0.backplane = backplane }
    }

    var backplane: RedisBackplane? { links.withLock { $0.backplane } }

    var targets: [WebSocketContext] { links.withLock { $0.contexts } }

    /// With a backplane, its figures and the hub's (repaired messages, gaps, resets).
    public var backplaneFigures: BackplaneFigures? {
        guard let backplane else { return nil }
        var figures = state.withLock { $0.figures }
        let connections = backplane.figures
        figures.connectionsDown = connections.connectionsDown
        figures.reconnects = connections.reconnects
        figures.publicationsRefused = connections.publicationsRefused
        figures.publicationsLost = connections.publicationsLost
        return figures
    }

    /// Without a backplane nil; with one, whether all its Redis connections are up (for a
    /// health check to report the server degraded).
    public var backplaneIsAvailable: Bool? { backplane?.isAvailable }

    /// The name under which `/ws` connections subscribe to a topic in a loop's topic registry,
    /// apart from raw `/topics` subscribers, since they receive the envelope, not the message.
    static func envelopeChannel(_ topic: String) -> String { "\u{0}" + topic }

    /// Publishes a message to `topic` from any thread, through the backplane when there is
    /// one (the message then reaches local subscribers when it comes back from Redis).
    public func submit(_ topic: String, payload: [UInt8], kind: MessageKind) -> PublishOutcome {
        guard let backplane else {
            let (position, subscribers) = publish(topic, payload: payload, kind: kind)
            return .published(position, subscribers: subscribers)
        }
        return backplane.submit(topic, payload: payload, kind: kind) ? .forwarded : .refused
    }

    /// Publishes a message to this process's subscribers of `topic` from any thread, giving
    /// it the next local offset. Returns its position and the number of subscriptions it was
    /// handed to. (`submit` is the entry point that honours a backplane.)
    public func publish(_ topic: String, payload: [UInt8], kind: MessageKind, now: Int64 = MonotonicClock.milliseconds()) -> (position: StreamPosition, subscribers: Int) {
        let targets = links.withLock { $0.contexts }
        return state.withLock { state in
            let entry = state.history.append(topic, payload: payload, isText: kind == .text, now: now)
            let position = StreamPosition(offset: entry.offset, epoch: state.history.position(of: topic).epoch)
            return (position, Self.fanOut(entry, of: topic, kind: kind, to: targets, state: &state))
        }
    }

    /// A message that came back from the backplane, with the position Redis gave it: the
    /// same local path as `publish`, once the topic is in step with Redis (`TopicSync`).
    func deliver(_ topic: String, _ frame: BackplaneFrame) {
        guard let backplane else { return }
        let targets = targets
        state.withLock { state in
            // Between the last local unsubscribe and the channel's release, messages still
            // come: nobody here wants them, and keeping them would recreate a forgotten stream.
            guard state.subscribers[topic] != nil else { return }
            arrive(topic, frame, state: &state, backplane: backplane, targets: targets)
        }
    }

    /// Queues a message to every loop; called under the lock, and each loop's task queue is
    /// FIFO, so offset order holds on every loop.
    static func fanOut(_ entry: HistoryEntry, of topic: String, kind: MessageKind, to targets: [WebSocketContext], state: inout State) -> Int {
        let subscribers = state.subscribers[topic] ?? 0
        guard subscribers > 0 else { return 0 }
        let envelope = Envelope.message(topic: topic, entry: entry)
        let channel = envelopeChannel(topic)
        for context in targets {
            context.loop.execute {
                entry.withPayload { context.deliver(topic, $0, kind: kind) }
                envelope.bytes.withUnsafeBytes { context.deliver(channel, $0, kind: envelope.kind) }
            }
        }
        return subscribers
    }

    /// Where `topic` stands now, and how many subscriptions it has.
    public func status(of topic: String) -> (position: StreamPosition, subscribers: Int) {
        state.withLock { ($0.history.position(of: topic), $0.subscribers[topic] ?? 0) }
    }

    /// Registers a subscription (raw or `/ws`) for the counts; `unsubscribed` undoes it.
    func subscribed(_ topic: String) {
        let backplane = backplane
        state.withLock { count(topic, in: &$0, backplane: backplane) }
    }

    func unsubscribed(_ topic: String) {
        let backplane = backplane
        state.withLock { state in
            let remaining = (state.subscribers[topic] ?? 1) - 1
            state.subscribers[topic] = remaining > 0 ? remaining : nil
            if remaining <= 0 {
                state.history.forget(topic)
                // Its channel goes: what the node has is no longer kept in step with Redis.
                state.sync[topic] = nil
                // Under the lock, so the backplane sees first and last subscribers in order.
                backplane?.interest(topic, false)
            }
        }
    }

    /// One more subscription; the first of a topic tells the backplane (under the lock),
    /// and starts reading where the topic stands in Redis.
    private func count(_ topic: String, in state: inout State, backplane: RedisBackplane?) {
        state.subscribers[topic, default: 0] += 1
        guard state.subscribers[topic] == 1, let backplane else { return }
        backplane.interest(topic, true)
        if state.sync[topic] == nil { beginSync(topic, state: &state, backplane: backplane) }
    }

    /// Starts a `/ws` subscription on `loop`: `start` runs there with the recovery (every
    /// message after `since`, or only the current position when `since` is nil), queued
    /// under the lock behind every message already published, so that what it is given plus
    /// what arrives after it is the whole stream with no gap and no duplicate.
    func subscribe(on loop: EventLoop, to topic: String, since: StreamPosition?, now: Int64 = MonotonicClock.milliseconds(),
                   start: @escaping @Sendable (Recovery) -> Void) {
        let backplane = backplane
        state.withLock { state in
            count(topic, in: &state, backplane: backplane)
            if let backplane {
                return subscribeThroughRedis(topic, since: since, on: loop, state: &state, backplane: backplane, start: start)
            }
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
