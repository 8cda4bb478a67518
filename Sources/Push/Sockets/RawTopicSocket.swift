import WebSocket

/// `/topics/NAME` and `/chat`: the protocol-free mode for the simplest clients. The
/// connection receives every message of one topic as it was published (no envelope), and
/// what it sends is published to that topic — where its token allows it; otherwise it is
/// closed with 4403.
final class RawTopicSocket: WebSocket, @unchecked Sendable {
    /// The topic and the endpoint, shared with the other raw connections to the topic: an
    /// idle subscriber's object then fits the allocator's 176-byte block
    /// (`SocketFootprintTests`).
    private let route: RawTopicRoute
    private let mayPublish: Bool
    private var counted = false

    init(context: WebSocketContext, topic: String, endpoint: PushEndpoint, token: ConnectionToken?) {
        route = endpoint.rawTopicRoutes.take(topic, endpoint: endpoint)
        mayPublish = token.map { $0.mayPublish(topic) } ?? endpoint.openPublishing
        super.init(context: context)
    }

    deinit {
        route.endpoint.rawTopicRoutes.giveBack(route)
    }

    override func didOpen() {
        route.endpoint.hub.subscribed(route.topic)
        counted = true
        subscribe(route.topic)
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        guard mayPublish else {
            close(code: PushCloseCode.publishNotAllowed, reason: "publishing to \(route.topic) is not allowed")
            return
        }
        if route.endpoint.hub.submit(route.topic, payload: message.byteArray, kind: kind) == .refused {
            // The raw mode has no replies: say it with the standard "try again later" code.
            close(code: .tryAgainLater, reason: "Redis is unavailable")
        }
    }

    override func didClose(code: CloseCode, reason: String) {
        if counted { route.endpoint.hub.unsubscribed(route.topic) }
        counted = false
    }
}
