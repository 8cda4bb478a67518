import Logging
import Reactor
import Synchronization
import TLS

/// A WebSocket server on one or more event loops.
///
/// Every request goes to one router closure, which looks at the request (path, headers,
/// origin, query) and answers with a `ServerResponse`: upgrade to a WebSocket of your own
/// class, or a plain HTTP response.
///
/// ```swift
/// let server = WebSocketServer { request in
///     switch request.head.path {
///     case "/echo": .upgrade { EchoSocket(context: $0) }
///     default: .notFound
///     }
/// }
/// try server.listen(on: group.loops, address: SocketAddress(host: "127.0.0.1", port: 8080))
/// ```
///
/// With several loops each gets its own `SO_REUSEPORT` listener and context; publishing to
/// a topic reaches the subscribers on every loop through the server's `broker`.
public final class WebSocketServer: Sendable {
    /// The configuration every connection of the server shares.
    public let configuration: WebSocketConfiguration
    /// Carries publishes between the server's loops (`LocalBroker` unless given another).
    public let broker: any Broker
    private let router: @Sendable (ServerRequest) -> ServerResponse
    private let logger: Logger
    /// The server's presence on each loop: the one list of the loops it runs on.
    private let endpoints = Mutex<[ServerEndpoint]>([])
    /// The TLS context each TLS listener gives its new connections; replaced on reload.
    private let tlsContext = Mutex<TLSContext?>(nil)

    /// Creates a server; it listens once ``listen(on:address:maxConnections:backlog:tls:sharesPort:)`` is called.
    ///
    /// - Parameters:
    ///   - configuration: Limits, timeouts and policies for every connection.
    ///   - logger: Where the server and its connections log.
    ///   - broker: Carries publishes between loops (and, with another implementation, processes).
    ///   - router: Answers every request, on the loop that accepted it; keep it fast and
    ///     non-blocking.
    public init(
        configuration: WebSocketConfiguration = WebSocketConfiguration(),
        logger: Logger = Logger(label: "pushwave.server"),
        broker: any Broker = LocalBroker(),
        router: @escaping @Sendable (ServerRequest) -> ServerResponse
    ) {
        self.configuration = configuration
        self.broker = broker
        self.logger = logger
        self.router = router
    }

    /// Binds a listener on each loop (all on the same port) before the loops run, or from
    /// the loops' own threads. Returns the bound address (useful with port 0).
    /// `maxConnections` is the limit for the whole server, shared evenly by the loops;
    /// connections beyond it are answered 503. With `tls` (a server context) the listeners
    /// speak TLS (`wss://`, `https://`): the TLS handshake and the HTTP request share
    /// `handshakeTimeoutMilliseconds`, counted from accept. With `sharesPort`, other
    /// processes may listen on the same port too (`SO_REUSEPORT`, the kernel spreads new
    /// connections over all of them); without it a port in use is an error, even when this
    /// server's own loops share it.
    @discardableResult
    public func listen(
        on loops: [EventLoop], address: SocketAddress, maxConnections: Int = 1_000_000, backlog: Int32 = 1024,
        tls: TLSContext? = nil, sharesPort: Bool = false
    ) throws -> SocketAddress {
        precondition(tls?.isServer ?? true, "listen needs a server TLS context")
        if let tls { tlsContext.withLock { $0 = tls } }
        precondition(!loops.isEmpty, "listen needs at least one loop")
        var options = TCPListener.Options()
        options.reusePort = loops.count > 1 || sharesPort
        options.backlog = backlog
        var bound = address
        var created: [ServerEndpoint] = []
        let perLoop = max(1, maxConnections / loops.count)
        for loop in loops {
            let context = WebSocketContext(loop: loop, role: .server, configuration: configuration, logger: logger, broker: broker)
            context.outboundBudget = max(1, configuration.maxOutboundMemory / loops.count)
            let endpoint = ServerEndpoint(context: context, router: router, maxConnections: perLoop)
            // The listener (held by its loop until the loop shuts down) keeps its endpoint alive.
            let listener = try TCPListener(loop: loop, address: bound, options: options) { [self] loop in
                let connection = HTTPServerConnection(endpoint: endpoint)
                guard tls != nil, let current = tlsContext.withLock({ $0 }) else { return connection }
                connection.transport = TLSTransport(context: current, loop: loop)
                connection.startHandshakeTimer()
                return connection
            }
            endpoint.listener = listener
            bound = listener.localAddress
            created.append(endpoint)
        }
        endpoints.withLock { $0 += created }
        return bound
    }

    /// Makes new TLS connections use `tls` (e.g. a renewed certificate); open connections
    /// keep the context they started with. Safe from any thread.
    public func replaceTLSContext(_ tls: TLSContext) {
        precondition(tls.isServer, "replaceTLSContext needs a server TLS context")
        tlsContext.withLock { $0 = tls }
    }

    /// The per-loop contexts (one per loop given to `listen`).
    public var contexts: [WebSocketContext] {
        endpoints.withLock { $0.map(\.context) }
    }

    /// Publishes to `topic` on every loop (through the broker); safe from any thread.
    public func publish(_ topic: String, _ payload: [UInt8], kind: MessageKind) {
        payload.withUnsafeBytes { broker.publish(topic, $0, kind: kind, from: nil) }
    }

    /// Begins a graceful shutdown on every loop: listeners close, new upgrades get 503, and
    /// every open WebSocket is sent 1001 (going away). Safe from any thread; watch
    /// `EventLoop.connectionCount` (or wait a bounded time) before stopping the loops.
    public func drain() {
        for endpoint in endpoints.withLock({ $0 }) {
            endpoint.context.loop.execute { endpoint.drain() }
        }
    }

    /// Handshakes rejected so far on `context`'s loop, by HTTP status. Call on that loop.
    public func rejectedHandshakes(on context: WebSocketContext) -> [Int: Int] {
        endpoints.withLock { $0.first { $0.context === context } }?.rejections ?? [:]
    }
}
