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
    // The other direction, a connection's topics (for unsubscribing it when it closes, and
    // for finding its pending batches before a direct send), is kept in the connection:
    // `WebSocket.topicMemberships`.
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
        guard position(of: socket, in: topic) == nil else { return false }
        let position = topic.add(socket)
        switch socket.topicMemberships {
        case nil:
            socket.topicMemberships = .one(topic)
            socket.topicPosition = Int32(position)
        case .one(let first):
            socket.topicMemberships = .many(TopicMembershipList([
                TopicMembership(topic: first, position: Int(socket.topicPosition)),
                TopicMembership(topic: topic, position: position),
            ]))
        case .many(let list):
            list.entries.append(TopicMembership(topic: topic, position: position))
        }
        return topic.subscribers.count == 1
    }

    /// Removes `socket` from the subscribers of `name`. True when it was the last one.
    func unsubscribe(_ socket: WebSocket, from name: String) -> Bool {
        guard let topic = topics[name], let position = takeMembership(of: socket, in: topic) else { return false }
        remove(socket, at: position, from: topic)
        return leave(topic)
    }

    /// Removes `socket` from all its topics (it is closing); `emptied` gets the name of each
    /// topic that it was the last subscriber of.
    func unsubscribeAll(_ socket: WebSocket, emptied: (String) -> Void) {
        guard let memberships = socket.topicMemberships else { return }
        socket.topicMemberships = nil
        switch memberships {
        case .one(let topic):
            remove(socket, at: Int(socket.topicPosition), from: topic)
            if leave(topic) { emptied(topic.name) }
        case .many(let list):
            for membership in list.entries {
                remove(socket, at: membership.position, from: membership.topic)
                if leave(membership.topic) { emptied(membership.topic.name) }
            }
        }
    }

    /// Hands `socket` the batched messages of its topics before something is sent to it
    /// directly, so that they do not arrive after it.
    func deliverPending(to socket: WebSocket) {
        switch socket.topicMemberships {
        case nil:
            return
        case .one(let topic):
            if topic.hasPendingBatch { topic.deliverEarly(to: socket) }
        case .many(let list):
            for membership in list.entries where membership.topic.hasPendingBatch {
                membership.topic.deliverEarly(to: socket)
            }
        }
    }

    // MARK: Memberships

    /// `socket`'s index among the subscribers of `topic`; nil when it does not subscribe.
    private func position(of socket: WebSocket, in topic: Topic) -> Int? {
        switch socket.topicMemberships {
        case nil: nil
        case .one(let only): only === topic ? Int(socket.topicPosition) : nil
        case .many(let list): list.index(of: topic).map { list.entries[$0].position }
        }
    }

    /// Drops `topic` from `socket`'s memberships and returns its index among the topic's
    /// subscribers; nil when it does not subscribe.
    private func takeMembership(of socket: WebSocket, in topic: Topic) -> Int? {
        switch socket.topicMemberships {
        case nil:
            return nil
        case .one(let only):
            guard only === topic else { return nil }
            socket.topicMemberships = nil
            return Int(socket.topicPosition)
        case .many(let list):
            guard let index = list.index(of: topic) else { return nil }
            let position = list.entries.remove(at: index).position
            if list.entries.count == 1 {
                let last = list.entries[0]
                socket.topicMemberships = .one(last.topic)
                socket.topicPosition = Int32(last.position)
            }
            return position
        }
    }

    /// Takes `socket`, the subscriber at `position`, out of `topic`, and tells the one moved
    /// into its place where it now is.
    private func remove(_ socket: WebSocket, at position: Int, from topic: Topic) {
        guard let moved = topic.remove(socket, at: position) else { return }
        switch moved.topicMemberships {
        case nil:
            break
        case .one:
            moved.topicPosition = Int32(position)
        case .many(let list):
            if let index = list.index(of: topic) { list.entries[index].position = position }
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
