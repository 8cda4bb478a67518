import HTTP
import Logging
import Reactor
import TLS
import WebSocket

/// A push server: WebSocket subscribers, an HTTP publish API for backends, connection
/// tokens, topic history with recovery — on the loops it is given.
///
/// Routes:
/// - `GET /ws`: the `/ws` protocol (many topics per connection, offsets, recovery; see
///   Push/Protocol/PROTOCOL.md).
/// - `GET /topics/NAME`, `GET /chat` (topic `chat`): the raw mode, one topic, no envelope.
/// - `/api/...`: the publish API (`PublishAPI`).
/// - `GET /demo/token` when `demoTokens` is on.
/// - anything else goes to `fallback` (404 without one).
///
/// With a token verifier, every WebSocket upgrade needs a token (`?token=…` or
/// `Authorization: Bearer …`): missing, invalid or expired → 401; for `/topics/NAME` and
/// `/chat`, a token that does not allow the topic → 403. With `allowedOrigins`, an upgrade
/// from another origin → 403.
public final class PushServer: Sendable {
    public let configuration: PushConfiguration
    public let hub: TopicHub
    public let websocket: WebSocketServer
    private let endpoint: PushEndpoint
    /// What every `/ws` connection without a token shares.
    private let tokenlessAccess: PushAccess
    private let api: PublishAPI
    private let minter: DemoTokenMinter?
    private let fallback: @Sendable (ServerRequest) -> ServerResponse?
    private let logger: Logger

    public init(
        configuration: PushConfiguration,
        webSocket: WebSocketConfiguration = WebSocketConfiguration(),
        logger: Logger = Logger(label: "pushwave.push"),
        fallback: @escaping @Sendable (ServerRequest) -> ServerResponse? = { _ in nil }
    ) {
        self.configuration = configuration
        let rules = configuration.history
        hub = TopicHub(history: HistoryStore(maxBytes: configuration.historyMaxBytes, limits: { HistoryRule.limits(for: $0, in: rules) }))
        endpoint = PushEndpoint(hub: hub, configuration: configuration)
        tokenlessAccess = PushAccess.tokenless(endpoint)
        api = PublishAPI(hub: hub, keys: configuration.apiKeys)
        minter = configuration.demoTokens ? configuration.tokens?.secrets.keys.first.map {
            DemoTokenMinter(secret: $0, topics: ["chat", "chat.*"], lifetimeSeconds: 3600)
        } : nil
        self.fallback = fallback
        self.logger = logger
        let route = RouteBox()
        websocket = WebSocketServer(configuration: webSocket, logger: logger) { route.server?.respond(to: $0) ?? .text(503, "starting\n") }
        route.server = self
    }

    /// Listens on every loop (one `SO_REUSEPORT` listener each), with TLS when `tls` is
    /// given; returns the bound address. `sharesPort` lets other processes listen on the
    /// same port (see `WebSocketServer.listen`).
    @discardableResult
    public func listen(
        on loops: [EventLoop], address: SocketAddress, maxConnections: Int = 1_000_000, backlog: Int32 = 1024, tls: TLSContext? = nil,
        sharesPort: Bool = false
    ) throws -> SocketAddress {
        if let loop = loops.first, !configuration.redis.isEmpty { startBackplane(on: loop) }
        let bound = try websocket.listen(
            on: loops, address: address, maxConnections: maxConnections, backlog: backlog, tls: tls, sharesPort: sharesPort)
        hub.attach(websocket.contexts)
        return bound
    }

    /// All Redis I/O runs on one loop; its messages reach the others through the hub.
    private func startBackplane(on loop: EventLoop) {
        let rules = configuration.history
        let probe = configuration.redisProbeInterval > 0 ? Int64(max(1, (configuration.redisProbeInterval * 1_000).rounded())) : nil
        let backplane = RedisBackplane(loop: loop, urls: configuration.redis, maxPending: configuration.redisMaxPending,
                                       probeInterval: probe, logger: logger,
                                       limits: { HistoryRule.limits(for: $0, in: rules) }) { [weak hub] topic, frame in hub?.deliver(topic, frame) }
        hub.attach(backplane)
        backplane.start()
        logger.info("topics are shared through Redis: \(configuration.redis.map(\.description).joined(separator: ", "))")
    }

    /// Publishes from any thread, as the HTTP API does (through Redis when configured).
    @discardableResult
    public func publish(_ topic: String, _ payload: [UInt8], kind: MessageKind) -> PublishOutcome {
        hub.submit(topic, payload: payload, kind: kind)
    }

    /// Graceful shutdown: see `WebSocketServer.drain()`.
    public func drain() {
        websocket.drain()
    }

    // MARK: Routing

    func respond(to request: ServerRequest) -> ServerResponse {
        let path = request.head.path
        if path.hasPrefix("/api/") { return api.respond(to: request) }
        switch path {
        case "/ws":
            return upgrade(request, topic: nil) { [endpoint, tokenlessAccess] context, token in
                PushSocket(context: context, access: token.map { PushAccess(endpoint: endpoint, token: $0) } ?? tokenlessAccess)
            }
        case "/chat":
            return rawTopic("chat", request)
        case "/demo/token" where minter != nil:
            return demoToken(request)
        default:
            if path.hasPrefix("/topics/") {
                let name = String(path.dropFirst("/topics/".count))
                guard TopicName.isValid(name) else { return .text(400, "invalid topic name\n") }
                return rawTopic(name, request)
            }
            return fallback(request) ?? .notFound
        }
    }

    private func rawTopic(_ topic: String, _ request: ServerRequest) -> ServerResponse {
        upgrade(request, topic: topic) { [endpoint] context, token in
            RawTopicSocket(context: context, topic: topic, endpoint: endpoint, token: token)
        }
    }

    /// Checks origin and token, then upgrades. `topic` is the raw mode's one topic, which the
    /// token must allow.
    private func upgrade(
        _ request: ServerRequest, topic: String?, make: @escaping (WebSocketContext, ConnectionToken?) -> WebSocket
    ) -> ServerResponse {
        if !configuration.allowedOrigins.isEmpty {
            let origin = request.head.value("Origin") ?? ""
            guard configuration.allowedOrigins.contains(where: { $0.matches(origin) }) else {
                return .text(403, "origin not allowed\n")
            }
        }
        var token: ConnectionToken?
        if let verifier = configuration.tokens {
            guard let presented = Self.presentedToken(request.head) else { return .text(401, "a token is required\n") }
            do {
                token = try verifier.verify(presented)
            } catch {
                return .text(401, "token refused: \(error.reason)\n")
            }
            if let topic, token?.maySubscribe(topic) != true { return .text(403, "the token does not allow topic \(topic)\n") }
        }
        let granted = token
        return .upgrade { make($0, granted) }
    }

    /// The token of an upgrade: `?token=…`, or `Authorization: Bearer …` (for clients that
    /// can set headers; browsers cannot).
    static func presentedToken(_ head: HTTPRequestHead) -> String? {
        if let token = QueryParameters.value("token", in: head.query), !token.isEmpty { return token }
        guard let header = head.value("Authorization"), header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        return String(header.dropFirst(7))
    }

    private func demoToken(_ request: ServerRequest) -> ServerResponse {
        let subject = QueryParameters.value("sub", in: request.head.query) ?? "guest"
        guard subject.utf8.count <= 64, let token = minter?.mint(subject: subject) else { return .text(400, "bad subject\n") }
        return .http(
            status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
            body: Array(JSON.object([("token", .string(token))]).serialized.utf8))
    }
}

/// Lets the router closure, which the WebSocket server needs before `self` exists, reach the
/// push server once it does.
private final class RouteBox: @unchecked Sendable {
    // Written once, in `PushServer.init`, before any loop runs a request.
    weak var server: PushServer?
}
