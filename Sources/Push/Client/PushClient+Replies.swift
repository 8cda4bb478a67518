import WebSocket

/// What the server sends, applied to the subscriptions: order, exactly once, recovery.
extension PushClient {
    func socket(_ socket: PushClientSocket, received message: RawSpan, kind: MessageKind) {
        guard case .open(let current) = connection, current === socket else { return }
        let reply = message.withUnsafeBytes { bytes in
            kind == .text ? ServerReply.parse(text: bytes, limits: configuration.replyLimits) : ServerReply.parse(binary: bytes)
        }
        guard let reply else {
            malformedReplies += 1
            logger.warning("push client: ignored a malformed \(kind == .text ? "text" : "binary") frame from \(url)")
            return
        }
        handle(reply, on: socket)
    }

    private func handle(_ reply: ServerReply, on socket: PushClientSocket) {
        switch reply {
        case .message(let topic, let offset, let data):
            guard accept(topic, offset, on: socket) else { return }
            didReceive(topic: topic, offset: offset, data: data)
        case .binaryMessage(let topic, let offset, let payload):
            guard accept(topic, offset, on: socket) else { return }
            didReceiveBinary(topic: topic, offset: offset, payload: payload)
        case .subscribed(let topic, let position, let recovered, let id):
            subscribed(topic, position, recovered: recovered, id: id?.intValue)
        case .published(let topic, let offset, let id):
            guard let id = id?.intValue, inFlight.removeValue(forKey: id) != nil else { return }
            didPublish(topic: topic, offset: offset, id: id)
        case .error(let code, let reason, let id):
            failed(code: code, reason: reason, id: id?.intValue)
        case .unsubscribed(_, let id), .refreshed(let id):
            if let id = id?.intValue { inFlight[id] = nil }
        case .other(let op):
            logger.debug("push client: ignored a reply with op \"\(op)\"")
        }
    }

    /// Whether a message is the next of its topic: a repeat (an offset already delivered) is
    /// dropped; a gap means the stream lost something, and reconnecting recovers it.
    private func accept(_ topic: String, _ offset: UInt64, on socket: PushClientSocket) -> Bool {
        guard let subscription = subscriptions[topic], subscription.isActive, var position = subscription.position else { return false }
        guard offset > position.offset else { return false }
        guard offset == position.offset + 1 else {
            gapsDetected += 1
            resynchronize(socket, because: "topic \(topic) jumped from offset \(position.offset) to \(offset)")
            return false
        }
        position.offset = offset
        subscriptions[topic]?.position = position
        return true
    }

    /// A `subscribed` reply, to our command or unasked (with Redis: the server lost messages).
    private func subscribed(_ topic: String, _ position: StreamPosition, recovered: Bool, id: Int?) {
        guard var subscription = subscriptions[topic] else { return }
        if let id {
            // The answer to an earlier subscribe of the topic (unsubscribed since) is stale.
            guard subscription.commandID == id else { return }
            inFlight[id] = nil
        } else {
            guard subscription.isActive else { return }
        }
        let known = subscription.position
        subscription.isActive = true
        if recovered, let known, known.epoch == position.epoch {
            // The missed messages follow, from the position we asked for.
        } else {
            subscription.position = position
        }
        subscriptions[topic] = subscription
        didSubscribe(topic: topic, position: position)
        if !recovered, known != nil { didReset(topic: topic, position: position) }
    }

    private func failed(code: Int, reason: String, id: Int?) {
        let topic = id.flatMap { inFlight.removeValue(forKey: $0) }
        if let topic, let id, subscriptions[topic]?.commandID == id {
            // The subscribe was refused: keeping it would only repeat the refusal on every reconnect.
            subscriptions[topic] = nil
        }
        didFail(code: code, reason: reason, topic: topic)
    }
}
