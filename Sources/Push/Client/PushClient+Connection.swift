import Reactor
import WebSocket

/// The connection's life: connect, resubscribe, reconnect with backoff.
extension PushClient {
    func connect() {
        let socket = PushClientSocket(context: context, owner: self)
        let headers = token.map { [(name: "Authorization", value: "Bearer \($0)")] } ?? []
        do {
            try socket.connect(to: url, headers: headers, tls: configuration.tls)
        } catch {
            logger.warning("push client: cannot connect to \(url): \(error)")
            scheduleReconnect()
            return
        }
        connection = .connecting(socket)
        didChangeState(.connecting)
    }

    func socketOpened(_ socket: PushClientSocket) {
        guard case .connecting(let current) = connection, current === socket else { return }
        connection = .open(socket)
        backoff.reset()
        inFlight.removeAll()
        didChangeState(.open)
        // Every topic again, each from the last message delivered: nothing missed, nothing twice.
        for topic in subscriptions.keys { sendSubscribe(topic, on: socket) }
    }

    func socketClosed(_ socket: PushClientSocket, code: CloseCode, reason: String) {
        switch connection {
        case .connecting(let current), .open(let current):
            guard current === socket else { return }
            logger.debug("push client: connection to \(url) closed (\(code.rawValue) \(reason))")
            scheduleReconnect()
        case .idle, .waiting, .closed:
            return
        }
    }

    /// Forgets the connection's server-side state and waits for the next attempt.
    func scheduleReconnect() {
        for topic in subscriptions.keys {
            subscriptions[topic]?.isActive = false
            subscriptions[topic]?.commandID = nil
        }
        inFlight.removeAll()
        let delay = backoff.nextDelay()
        let timer = loop.schedule(afterMilliseconds: delay) { [weak self] in self?.reconnectDue() }
        connection = .waiting(timer, delayMilliseconds: delay)
        didChangeState(.waitingToReconnect(delayMilliseconds: delay))
    }

    private func reconnectDue() {
        guard case .waiting = connection else { return }
        connect()
    }

    /// Gives up the current connection (the stream can no longer be trusted) and reconnects:
    /// the resubscription with `since` repairs it.
    func resynchronize(_ socket: PushClientSocket, because why: String) {
        logger.warning("push client: \(why); reconnecting to recover")
        socket.owner = nil
        socket.close(code: .normalClosure, reason: "resynchronizing")
        scheduleReconnect()
    }

    // MARK: Sending

    func sendSubscribe(_ topic: String, on socket: PushClientSocket) {
        let since = subscriptions[topic]?.position.map { position -> JSON in
            .object([("offset", .int(Int(clamping: position.offset))), ("epoch", .string(position.epoch))])
        }
        let id = send(["op": .string("subscribe"), "topic": .string(topic)], extra: since.map { ("since", $0) }, topic: topic, on: socket)
        subscriptions[topic]?.commandID = id
        subscriptions[topic]?.isActive = false
    }

    /// Sends a command with the next `id`, remembered with its topic until the reply.
    @discardableResult
    func send(_ fields: KeyValuePairs<String, JSON>, extra: (String, JSON)? = nil, topic: String?, on socket: PushClientSocket) -> Int {
        let id = nextCommandID
        nextCommandID += 1
        var members = fields.map { ($0.key, $0.value) }
        if let extra { members.append(extra) }
        members.append(("id", .int(id)))
        socket.send(text: JSON.object(members).serialized)
        if let topic { inFlight[id] = topic }
        return id
    }
}
