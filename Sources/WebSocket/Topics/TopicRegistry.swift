import Reactor

/// The topics of one loop's connections: subscribe, unsubscribe, publish.
///
/// Publishing encodes the frame once into the topic's batch; at the end of the loop
/// iteration every subscriber gets the whole batch in one write. A subscriber whose send
/// buffer would pass its limit meets the slow-consumer policy (messages dropped for it, or
/// it is closed); the publisher and the other subscribers never wait for it.
///
/// Order: a direct send to a subscriber that has batched messages waiting first hands it
/// those (see `deliverPending(to:)`), so a connection's output leaves in the order it was
/// issued. Only then does that subscriber cost more than one write per iteration.
final class TopicRegistry {
    private let loop: EventLoop
    private var topics: [String: Topic] = [:]
    /// Topics with a batch waiting for the flush. Checked on every direct send.
    @exclusivity(unchecked)
    private var dirty: [Topic] = []
    private var flushHookInstalled = false

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Whether any topic of this loop has messages waiting for the end of the iteration.
    var hasPendingBatches: Bool { !dirty.isEmpty }

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

    /// Hands `socket` the batched messages of its topics before something is sent to it
    /// directly, so that they do not arrive after it.
    func deliverPending(to socket: WebSocket) {
        for topic in socket.subscriptions where topic.hasPendingBatch {
            topic.deliverEarly(to: socket)
        }
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
        loop.addFlushHook { self.flush() }
    }

    /// Sends each dirty topic's batch to its subscribers: one write per subscriber per topic.
    func flush() {
        guard !dirty.isEmpty else { return }
        let flushing = dirty
        dirty.removeAll(keepingCapacity: true)
        for topic in flushing {
            topic.flushBatch()
            dropIfUnused(topic)
        }
    }
}
