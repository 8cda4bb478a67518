import WebSocket

/// `/echo`: every message comes back as the same type.
final class EchoSocket: WebSocket, @unchecked Sendable {
    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        send(message, kind: kind)
    }
}

/// The pages of the `pushwave` server around the push server's own routes (`/ws`,
/// `/topics/NAME`, `/chat`, `/api/...`): the chat page, its client library, health,
/// metrics, and the `/echo` endpoint for benchmarks.
struct Pages: Sendable {
    let metrics: MetricsBoard

    /// The plain HTTP pages: they are read, never written to.
    static let readOnly: Set<String> = ["/", "/index.html", "/pushwave.js", "/healthz", "/metrics"]

    /// 200 `ok`; with `--redis`, 503 `degraded: …` while any Redis connection is down (the
    /// node then delivers nothing and queues or refuses publications, so a load balancer
    /// should prefer other nodes). With `--processes`, the Redis connections of every worker
    /// count (from the figures the workers share for `/metrics`).
    private func health(_ request: ServerRequest) -> ServerResponse {
        guard let down = metrics.redisConnectionsDown(current: request.context), down > 0 else { return .text(200, "ok\n") }
        return .text(503, "degraded: \(down) Redis connection\(down == 1 ? " is" : "s are") down\n")
    }

    func respond(to request: ServerRequest) -> ServerResponse? {
        let path = request.head.path
        if Self.readOnly.contains(path), !["GET", "HEAD"].contains(request.head.method) {
            return .methodNotAllowed(allowing: ["GET", "HEAD"])
        }
        switch path {
        case "/echo":
            return .upgrade { EchoSocket(context: $0) }
        case "/", "/index.html":
            return .http(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")], body: PackageResources.chat_html)
        case "/pushwave.js":
            return .http(status: 200, headers: [("Content-Type", "text/javascript; charset=utf-8"), ("Cache-Control", "no-cache")], body: PackageResources.pushwave_js)
        case "/healthz":
            return health(request)
        case "/metrics":
            return .http(
                status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                body: metrics.render(current: request.context))
        default:
            return nil
        }
    }
}
