import WebSocket

/// `/echo`: every message comes back as the same type.
final class EchoSocket: WebSocket, @unchecked Sendable {
    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        send(message, kind: kind)
    }
}

/// `/chat` and `/topics/NAME`: subscribed to one topic; every message it sends is published
/// to that topic (the sender included), on every loop.
final class TopicSocket: WebSocket, @unchecked Sendable {
    let topic: String

    init(context: WebSocketContext, topic: String) {
        self.topic = topic
        super.init(context: context)
    }

    override func didOpen() {
        subscribe(topic)
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        publish(topic, message, kind: kind)
    }
}

/// Routes every request of the `pushwave` server.
struct Router: Sendable {
    let metrics: MetricsBoard

    /// Topic names: 1 to 128 bytes of letters, digits and `-_.:`.
    static func isValidTopicName(_ name: Substring) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."), UInt8(ascii: ":"):
                true
            default:
                false
            }
        }
    }

    /// The plain HTTP pages: they are read, never written to.
    static let pages: Set<String> = ["/", "/index.html", "/healthz", "/metrics"]

    func respond(to request: ServerRequest) -> ServerResponse {
        let path = request.head.path
        if Self.pages.contains(path), !["GET", "HEAD"].contains(request.head.method) {
            return .methodNotAllowed(allowing: ["GET", "HEAD"])
        }
        switch path {
        case "/echo":
            return .upgrade { EchoSocket(context: $0) }
        case "/chat":
            return .upgrade { TopicSocket(context: $0, topic: "chat") }
        case "/", "/index.html":
            return .http(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")], body: PackageResources.chat_html)
        case "/healthz":
            return .text(200, "ok\n")
        case "/metrics":
            return .http(
                status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                body: Array(metrics.render(current: request.context).utf8))
        default:
            let prefix = "/topics/"
            if path.hasPrefix(prefix) {
                let name = path.dropFirst(prefix.count)
                guard Self.isValidTopicName(name) else { return .text(400, "invalid topic name\n") }
                let topic = "topics/" + name
                return .upgrade { TopicSocket(context: $0, topic: topic) }
            }
            return .notFound
        }
    }
}
