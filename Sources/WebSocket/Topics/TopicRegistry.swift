import Reactor

/// The topics of one loop's connections: subscribe, unsubscribe, publish.
///
/// Publishing encodes the frame once into the topic's batch; at the end of the loop
/// iteration every subscriber gets the whole batch in one write. A subscriber whose send
/// buffer would pass its limit meets the slow-consumer policy (messages dropped for it, or
/// it is closed); the publisher and the other subscribers never wait for it.
final class TopicRegistry {
    private unowned let context: WebSocketContext
    private var topics: [String: Topic] = [:]
    private var dirty: [Topic] = []
    private var flushHookInstalled = false

    init(context: WebSocketContext) {
        self.context = context
    }

    var topicCount: Int { topics.count }

    func subscriberCount(_ name: String) -> Int {
        topics[name]?.subscribers.count ?? 0
    }

    func subscribe(_ socket: WebSocket, to name: String) {
        let topic = topics[name] ?? {
            let topic = Topic(name: name)
            topics[name] = topic
            return topic
        }()
        if topic.add(socket) { socket.subscriptions.append(topic) }
    }

    func unsubscribe(_ socket: WebSocket, from name: String) {
        guard let topic = topics[name], topic.remove(socket) else { return }
        socket.subscriptions.removeAll { $0 === topic }
        dropIfUnused(topic)
    }

    func unsubscribeAll(_ socket: WebSocket) {
        for topic in socket.subscriptions {
            _ = topic.remove(socket)
            dropIfUnused(topic)
        }
        socket.subscriptions.removeAll()
    }

    /// Queues a message for every subscriber of `name` on this loop.
    func publish(_ name: String, _ payload: UnsafeRawBufferPointer, kind: MessageKind) {
        guard let topic = topics[name], !topic.isEmpty else { return }
        if !topic.hasPendingBatch { dirty.append(topic) }
        topic.append(payload, opcode: kind.opcode)
        installFlushHook()
    }

    private func dropIfUnused(_ topic: Topic) {
        if topic.isEmpty, !topic.hasPendingBatch, topics[topic.name] === topic {
            topics[topic.name] = nil
        }
    }

    private func installFlushHook() {
        guard !flushHookInstalled else { return }
        flushHookInstalled = true
        // Held by the loop until it shuts down.
        context.loop.addFlushHook { self.flush() }
    }

    /// Sends each dirty topic's batch to its subscribers: one write per subscriber per topic.
    func flush() {
        guard !dirty.isEmpty else { return }
        let flushing = dirty
        dirty.removeAll(keepingCapacity: true)
        for topic in flushing {
            // Subscribers may close (and unsubscribe) while we write: iterate over a copy.
            let subscribers = topic.subscribers
            topic.takeBatch { bytes, messageCount in
                for socket in subscribers {
                    socket.sendBatch(bytes, messageCount: messageCount)
                }
            }
            dropIfUnused(topic)
        }
    }
}
