import Reactor
import WebSocket

/// A connection speaking the `/ws` protocol (PROTOCOL.md in Push/Protocol): many
/// subscriptions with offsets and recovery, publishing where the token allows it.
///
/// Per connection it keeps only its subscriptions (one small dictionary entry each) and one
/// reference to its endpoint and what its token grants (``PushAccess``, shared by the
/// connections without a token); messages reach it through the loop's topic registry like
/// any subscriber's, as envelopes encoded once per publish.
final class PushSocket: WebSocket, @unchecked Sendable {
    private enum Subscription {
        /// Asked for; the hub's start (with the recovery) is on its way to this loop.
        case starting
        /// Receiving live messages.
        case active
    }

    // Ordered to pack: the 4-byte field first fills the end of `WebSocket`'s 148 bytes.
    /// Bad commands in a row (saturating); too many close the connection.
    private var consecutiveErrors: UInt32 = 0
    /// The endpoint and what the token grants; a `refresh` replaces it.
    private var access: PushAccess
    private var subscriptions: [String: Subscription] = [:]

    /// `access`: the server's shared tokenless one, or one made from the connection's token.
    init(context: WebSocketContext, access: PushAccess) {
        self.access = access
        super.init(context: context)
    }

    private var endpoint: PushEndpoint { access.endpoint }

    override func didOpen() {
        scheduleExpiry()
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        guard kind == .text else {
            reject(.badCommand("commands are text frames"), id: nil)
            return
        }
        let (parsed, id) = message.withUnsafeBytes { Command.parse($0, limits: endpoint.commandLimits) }
        switch parsed {
        case .failure(let error):
            reject(error, id: id)
        case .success(let command):
            do throws(CommandError) {
                try perform(command, id: id)
                consecutiveErrors = 0
            } catch {
                reject(error, id: id)
            }
        }
    }

    override func didClose(code: CloseCode, reason: String) {
        cancelExpiry()
        for topic in subscriptions.keys { endpoint.hub.unsubscribed(topic) }
        subscriptions.removeAll()
    }

    // MARK: Commands

    private func perform(_ command: Command, id: JSON?) throws(CommandError) {
        switch command {
        case .subscribe(let topic, let since): try subscribe(topic, since: since, id: id)
        case .unsubscribe(let topic): try unsubscribe(topic, id: id)
        case .publish(let topic, let data): try publish(topic, data: data, id: id)
        case .refresh(let token): try refresh(token, id: id)
        }
    }

    private func subscribe(_ topic: String, since: StreamPosition?, id: JSON?) throws(CommandError) {
        guard access.maySubscribe(topic) else { throw .notAllowed }
        guard subscriptions[topic] == nil else { throw .badCommand("already subscribed to \"\(topic)\"") }
        guard subscriptions.count < endpoint.maxSubscriptionsPerConnection else { throw .tooManySubscriptions }
        subscriptions[topic] = .starting
        endpoint.hub.subscribe(on: loop, to: topic, since: since) { recovery in
            self.start(topic, recovery, id: id)
        }
    }

    /// The subscription begins: the reply, the recovered messages, then live ones. Runs on
    /// the loop, queued by the hub behind every message published before the recovery was
    /// taken, so subscribing to the channel now misses nothing and repeats nothing.
    private func start(_ topic: String, _ recovery: Recovery, id: JSON?) {
        guard case .starting = subscriptions[topic], canSend else { return }
        subscriptions[topic] = .active
        // Corked: the reply and thousands of recovered messages leave in a few large writes,
        // not one system call each. Each message is its history entry's envelope, encoded
        // once when it was published, whatever the number of clients that recover it.
        withWritesCorked {
            send(Envelope.subscribed(topic, recovery, id: id))
            guard case .recovered(let missed, _) = recovery else { return }
            for entry in missed {
                // A write that fails (the peer reset the connection) closes the connection
                // here and now, `didClose` included: the rest would be sent for nothing.
                guard canSend else { return }
                send(Envelope.message(topic: topic, entry: entry))
            }
        }
        // Does nothing if the connection closed meanwhile (see `WebSocket.subscribe`).
        subscribe(TopicHub.envelopeChannel(topic))
    }

    private func unsubscribe(_ topic: String, id: JSON?) throws(CommandError) {
        guard let subscription = subscriptions.removeValue(forKey: topic) else { throw .notSubscribed }
        if case .active = subscription { unsubscribe(TopicHub.envelopeChannel(topic)) }
        endpoint.hub.unsubscribed(topic)
        send(Envelope.reply(Envelope.withID(id, [("op", .string("unsubscribed")), ("topic", .string(topic))])))
    }

    private func publish(_ topic: String, data: JSON, id: JSON?) throws(CommandError) {
        guard access.mayPublish(topic) else { throw .notAllowed }
        var fields: [(String, JSON)] = [("op", .string("published")), ("topic", .string(topic))]
        switch endpoint.hub.submit(topic, payload: Array(data.serialized.utf8), kind: .text) {
        case .published(let position, _):
            fields += [("offset", .int(Int(clamping: position.offset))), ("epoch", .string(position.epoch))]
        case .forwarded:
            break  // Redis assigns the position; the message itself carries it
        case .refused:
            throw .unavailable
        }
        send(Envelope.reply(Envelope.withID(id, fields)))
    }

    private func refresh(_ text: String, id: JSON?) throws(CommandError) {
        guard let verifier = endpoint.tokens else { throw .badCommand("this server takes no tokens") }
        do throws(TokenError) {
            let token = try verifier.verify(text)
            cancelExpiry()
            access = PushAccess(endpoint: endpoint, token: token)
        } catch {
            throw .badCommand("token refused: \(error.reason)")
        }
        scheduleExpiry()
        send(Envelope.reply(Envelope.withID(id, [("op", .string("refreshed"))])))
    }

    // MARK: Helpers

    private func send(_ envelope: Envelope) {
        send(envelope.bytes, kind: envelope.kind)
    }

    private func reject(_ error: CommandError, id: JSON?) {
        send(Envelope.error(error, id: id))
        if consecutiveErrors < .max { consecutiveErrors += 1 }
        if Int(consecutiveErrors) > endpoint.maxConsecutiveErrors {
            close(code: .policyViolation, reason: "too many bad commands")
        }
    }

    /// Closes the connection with 4401 when its token expires (a `refresh` moves it on).
    private func scheduleExpiry() {
        cancelExpiry()
        guard let expiresAt = access.expiresAt else { return }
        // The verifier's leeway for clock skew applies here too: a token it accepted as not
        // yet expired lives as long.
        let leeway = endpoint.tokens?.leeway ?? 0
        let milliseconds = max(0, Int64((expiresAt + leeway - WallClock.seconds()) * 1000))
        access.expiryTimer = loop.schedule(afterMilliseconds: milliseconds) { [weak self] in
            self?.access.expiryTimer = nil
            self?.close(code: PushCloseCode.tokenExpired, reason: "token expired")
        }
    }

    private func cancelExpiry() {
        guard let timer = access.expiryTimer else { return }
        _ = loop.cancel(timer)
        access.expiryTimer = nil
    }
}
