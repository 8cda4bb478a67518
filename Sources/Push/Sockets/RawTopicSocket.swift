import WebSocket

/// `/topics/NAME` and `/chat`: the protocol-free mode for the simplest clients. The
/// connection receives every message of one topic as it was published (no envelope), and
/// what it sends is published to that topic — where its token allows it; otherwise it is
/// closed with 4403.
final class RawTopicSocket: WebSocket, @unchecked Sendable {
    private var topic: String
    private let endpoint: PushEndpoint
    private let mayPublish: Bool
    private var counted = false

    init(context: WebSocketContext, topic: String, endpoint: PushEndpoint, token: ConnectionToken?) {
        self.topic = topic
        self.endpoint = endpoint
        mayPublish = token.map { $0.mayPublish(topic) } ?? endpoint.openPublishing
        super.init(context: context)
    }

    override func didOpen() {
        endpoint.hub.subscribed(topic)
        counted = true
        subscribe(topic)
        // Every connection to /topics/NAME parsed its own copy of NAME from its request.
        topic = context.sharedTopicName(topic)
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        guard mayPublish else {
            close(code: PushCloseCode.publishNotAllowed, reason: "publishing to \(topic) is not allowed")
            return
        }
        if endpoint.hub.submit(topic, payload: message.byteArray, kind: kind) == .refused {
            // The raw mode has no replies: say it with the standard "try again later" code.
            close(code: .tryAgainLater, reason: "Redis is unavailable")
        }
    }

    override func didClose(code: CloseCode, reason: String) {
        if counted { endpoint.hub.unsubscribed(topic) }
        counted = false
    }
}
