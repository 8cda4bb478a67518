import Synchronization

/// The in-process broker: fan-out across the loops of one process, through the loops' task
/// queues. A message for other loops is copied once and shared by all of them; each loop
/// then encodes it once for its own subscribers.
public final class LocalBroker: Broker {
    /// For each topic, the contexts whose loops have subscribers to it. Weak: a context that
    /// is gone (its loop shut down) is skipped and cleaned up.
    private let subscribed = Mutex<[String: [WeakContext]]>([:])

    /// A broker with no subscribers yet.
    public init() {}

    /// Copies the payload once and hands it to each other subscribed loop's task queue.
    public func publish(_ topic: String, _ payload: UnsafeRawBufferPointer, kind: MessageKind, from origin: WebSocketContext?) {
        let targets = subscribed.withLock { $0[topic] }
        guard let targets else { return }
        var shared: [UInt8]?
        for target in targets {
            guard let context = target.context, context !== origin else { continue }
            let bytes = shared ?? Array(payload)
            shared = bytes
            context.loop.execute {
                bytes.withUnsafeBytes { context.deliver(topic, $0, kind: kind) }
            }
        }
    }

    /// Remembers that `context`'s loop wants `topic`.
    public func subscribe(_ context: WebSocketContext, to topic: String) {
        subscribed.withLock { $0[topic, default: []].append(WeakContext(context: context)) }
    }

    /// Forgets that `context`'s loop wants `topic` (and any context that is gone).
    public func unsubscribe(_ context: WebSocketContext, from topic: String) {
        subscribed.withLock { table in
            table[topic]?.removeAll { $0.context == nil || $0.context === context }
            if table[topic]?.isEmpty == true { table[topic] = nil }
        }
    }
}

/// A context referred to without keeping it (and its loop) alive.
struct WeakContext {
    weak var context: WebSocketContext?
}
