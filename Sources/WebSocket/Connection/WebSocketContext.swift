import Logging
import Reactor

/// Counters of one context's connections, kept on its loop without locks.
public struct WebSocketStatistics: Sendable {
    /// Connections that completed the handshake.
    public var connectionsOpened = 0
    /// Open connections that have since closed, for any reason.
    public var connectionsClosed = 0
    /// Complete messages handed to ``WebSocket/didReceive(_:kind:)``.
    public var messagesReceived = 0
    /// Payload bytes of those messages.
    public var bytesReceived = 0
    /// Data messages queued for sending (direct sends and topic deliveries).
    public var messagesSent = 0
    /// Payload bytes of those messages.
    public var bytesSent = 0
    /// Messages not sent because a connection's send buffer was full (`.dropMessages`).
    public var messagesDropped = 0
    /// Connections closed because their send buffer was full (`.close`).
    public var slowConsumersClosed = 0
    /// Messages refused to a connection with a backlog because the loop's share of
    /// ``WebSocketConfiguration/maxOutboundMemory`` was in use (each also counts as dropped,
    /// or its connection as a slow consumer closed).
    public var outboundMemoryRefusals = 0
    /// Connections failed for breaking the protocol, whatever the close code (the debug log
    /// line of each failure gives the error and the code).
    public var protocolErrors = 0
    /// Messages sent with permessage-deflate (each topic publish counts once per compression),
    /// and their bytes before and after.
    public var messagesCompressed = 0
    public var bytesBeforeCompression = 0
    public var bytesAfterCompression = 0
    /// Compressions made for topic publishes: one per publish and loop, however many
    /// subscribers share the result.
    public var topicCompressions = 0
    /// Compressed messages received, and their bytes before and after inflating.
    public var messagesInflated = 0
    public var bytesBeforeInflation = 0
    public var bytesAfterInflation = 0
    /// zlib memory held by connections with context takeover, estimated with zlib's formulas.
    public var deflateMemoryBytes = 0

    /// All counters zero.
    public init() {}

    /// Adds another loop's counters, for a process-wide total.
    public mutating func add(_ other: WebSocketStatistics) {
        connectionsOpened += other.connectionsOpened
        connectionsClosed += other.connectionsClosed
        messagesReceived += other.messagesReceived
        bytesReceived += other.bytesReceived
        messagesSent += other.messagesSent
        bytesSent += other.bytesSent
        messagesDropped += other.messagesDropped
        slowConsumersClosed += other.slowConsumersClosed
        outboundMemoryRefusals += other.outboundMemoryRefusals
        protocolErrors += other.protocolErrors
        messagesCompressed += other.messagesCompressed
        bytesBeforeCompression += other.bytesBeforeCompression
        bytesAfterCompression += other.bytesAfterCompression
        topicCompressions += other.topicCompressions
        messagesInflated += other.messagesInflated
        bytesBeforeInflation += other.bytesBeforeInflation
        bytesAfterInflation += other.bytesAfterInflation
        deflateMemoryBytes += other.deflateMemoryBytes
    }
}

/// What the WebSocket connections of one loop share: the loop, the configuration, their
/// counters, their topics and the broker that links those to other loops. Create one per loop (a `WebSocketServer` makes its own).
/// Confined to its loop's thread.
public final class WebSocketContext: @unchecked Sendable {
    /// The loop every connection of this context runs on.
    public let loop: EventLoop
    /// Server or client: decides masking and which side may do what.
    public let role: Role
    /// The limits, timeouts and policies of these connections.
    public let configuration: WebSocketConfiguration
    /// Where these connections log (protocol errors at debug level).
    public let logger: Logger
    /// Role and limits as every connection's frame parser applies them.
    let frameRules: FrameRules
    /// Counters, updated by the connections as they go.
    // See `TCPConnection` on `@exclusivity(unchecked)`.
    @exclusivity(unchecked)
    public internal(set) var statistics = WebSocketStatistics()
    /// This loop's topics and their subscribers.
    let topics: TopicRegistry
    /// This loop's share of ``WebSocketConfiguration/maxOutboundMemory``: all of it for a
    /// context made alone; a server divides it among its loops.
    @exclusivity(unchecked)
    var outboundBudget: Int
    /// Carries publishes to the subscribers on other loops (or processes); nil when the
    /// topics of this loop are all there is.
    public let broker: (any Broker)?
    @exclusivity(unchecked)
    private var maskKeys: MaskKeyGenerator
    /// The loop's shared permessage-deflate compressors, decompressor and scratch memory.
    let compression: LoopCompression
    /// Pings and idle timeouts of the open connections; nil when the configuration has neither.
    let keepalive: KeepaliveSweep?

    /// Creates the context for connections on `loop`.
    ///
    /// - Parameters:
    ///   - loop: The loop; call everything else on its thread.
    ///   - role: `.server` for accepted connections, `.client` for those that connect.
    ///   - configuration: Limits, timeouts and policies.
    ///   - logger: Where the connections log.
    ///   - broker: Links this loop's topics to other loops; nil keeps them local.
    public init(
        loop: EventLoop, role: Role, configuration: WebSocketConfiguration = WebSocketConfiguration(),
        logger: Logger = Logger(label: "pushwave.websocket"), broker: (any Broker)? = nil
    ) {
        self.loop = loop
        self.broker = broker
        self.role = role
        self.configuration = configuration
        self.logger = logger
        frameRules = FrameRules(role: role, limits: configuration.limits)
        topics = TopicRegistry(loop: loop)
        outboundBudget = configuration.maxOutboundMemory
        maskKeys = MaskKeyGenerator()
        compression = LoopCompression(configuration: configuration.deflate)
        keepalive = KeepaliveSweep(loop: loop, configuration: configuration)
    }

    /// Publishes to the subscribers of `topic` on this loop now, and through the broker to
    /// those elsewhere. Call on this context's loop.
    public func publish(_ topic: String, _ payload: UnsafeRawBufferPointer, kind: MessageKind) {
        topics.publish(topic, payload, kind: kind, in: self)
        broker?.publish(topic, payload, kind: kind, from: self)
    }

    /// Hands a message that came through the broker to this loop's subscribers of `topic`
    /// (and to no one else). Call on this context's loop.
    public func deliver(_ topic: String, _ payload: UnsafeRawBufferPointer, kind: MessageKind) {
        topics.publish(topic, payload, kind: kind, in: self)
    }

    func subscribe(_ socket: WebSocket, to topic: String) {
        if topics.subscribe(socket, to: topic) { broker?.subscribe(self, to: topic) }
    }

    func unsubscribe(_ socket: WebSocket, from topic: String) {
        if topics.unsubscribe(socket, from: topic) { broker?.unsubscribe(self, from: topic) }
    }

    /// Unsubscribes a closing connection from everything.
    func unsubscribeAll(_ socket: WebSocket) {
        topics.unsubscribeAll(socket) { broker?.unsubscribe(self, from: $0) }
    }

    /// Bytes this loop's connections have queued for sending (copies, and shared batches
    /// counted once), as measured against ``WebSocketConfiguration/maxOutboundMemory``.
    public var queuedOutboundBytes: Int {
        loop.outboundMemory.queuedBytes
    }

    /// Subscribers of `topic` on this loop.
    public func subscriberCount(_ topic: String) -> Int {
        topics.subscriberCount(topic)
    }

    func nextMaskKey() -> UInt32 {
        maskKeys.next()
    }
}

/// Masking keys for client frames. RFC 6455 §5.3 wants them unpredictable to whoever
/// controls the payload; an xorshift128+ generator seeded from the system's entropy gives
/// that without a system call per frame (the system generator costs one on Linux).
struct MaskKeyGenerator {
    private var state: (UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        state = (system.next() | 1, system.next())
    }

    mutating func next() -> UInt32 {
        // xorshift128+
        var s1 = state.0
        let s0 = state.1
        state.0 = s0
        s1 ^= s1 << 23
        state.1 = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26)
        return UInt32(truncatingIfNeeded: (state.1 &+ s0) >> 32)
    }
}
