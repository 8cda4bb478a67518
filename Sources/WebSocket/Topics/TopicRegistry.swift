import Reactor

/// The topics of one loop's connections: subscribe, unsubscribe, publish. The one owner of
/// who subscribes to what on this loop, in both directions (topic to subscribers, and
/// connection to topics).
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
    /// The topics of each subscribed connection: for unsubscribing it when it closes, and for
    /// finding its pending batches before a direct send. Connections without topics have no
    /// entry (and pay nothing).
    private var memberships: [ObjectIdentifier: TopicMemberships] = [:]
    /// Topics with a batch waiting for the flush. Checked on every direct send.
    // See `TCPConnection` on `@exclusivity(unchecked)`.
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

    /// Adds `socket` to the subscribers of `name`. True when it is the topic's first
    /// subscriber on this loop (the broker is then told).
    func subscribe(_ socket: WebSocket, to name: String) -> Bool {
        let topic = topics[name] ?? makeTopic(name)
        guard topic.add(socket) else { return false }
        let id = ObjectIdentifier(socket)
        memberships[id] = memberships[id].map { $0.adding(topic) } ?? .one(topic)
        return topic.subscribers.count == 1
    }

    /// Removes `socket` from the subscribers of `name`. True when it was the last one.
    func unsubscribe(_ socket: WebSocket, from name: String) -> Bool {
        guard let topic = topics[name], topic.remove(socket) else { return false }
        let id = ObjectIdentifier(socket)
        memberships[id] = memberships[id]?.removing(topic)
        return leave(topic)
    }

    /// Removes `socket` from all its topics (it is closing); `emptied` gets the name of each
    /// topic that it was the last subscriber of.
    func unsubscribeAll(_ socket: WebSocket, emptied: (String) -> Void) {
        guard !memberships.isEmpty, let subscribed = memberships.removeValue(forKey: ObjectIdentifier(socket)) else { return }
        subscribed.forEach { topic in
            guard topic.remove(socket) else { return }
            if leave(topic) { emptied(topic.name) }
        }
    }

    /// Hands `socket` the batched messages of its topics before something is sent to it
    /// directly, so that they do not arrive after it.
    func deliverPending(to socket: WebSocket) {
        guard let subscribed = memberships[ObjectIdentifier(socket)] else { return }
        subscribed.forEach { topic in
            if topic.hasPendingBatch { topic.deliverEarly(to: socket) }
        }
    }

    /// Queues a message for every subscriber of `name` on this loop.
    /// `context` compresses it, once, for the subscribers that take compressed batches.
    func publish(_ name: String, _ payload: UnsafeRawBufferPointer, kind: MessageKind, in context: WebSocketContext) {
        guard let topic = topics[name], !topic.isEmpty else { return }
        if !topic.hasPendingBatch { dirty.append(topic) }
        topic.append(payload, opcode: kind.opcode, in: context)
        installFlushHook()
    }

    private func makeTopic(_ name: String) -> Topic {
        let topic = Topic(name: name)
        topics[name] = topic
        return topic
    }

    /// After a removal: drops the topic when nothing uses it any more. True when it has no
    /// subscriber left on this loop.
    private func leave(_ topic: Topic) -> Bool {
        dropIfUnused(topic)
        return topic.isEmpty
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
    ///
    /// A subscriber that closes during the flush may publish from its `didClose`: that makes
    /// topics dirty again, and they are flushed in another round rather than waiting for the
    /// next event on the loop (which may be long in coming).
    func flush() {
        while !dirty.isEmpty {
            let flushing = dirty
            dirty.removeAll(keepingCapacity: true)
            for topic in flushing {
                topic.flushBatch(memory: loop.outboundMemory)
                dropIfUnused(topic)
            }
        }
    }
}
