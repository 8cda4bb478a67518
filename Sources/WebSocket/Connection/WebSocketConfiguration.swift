import Reactor

/// Limits, timeouts and policies shared by a group of WebSocket connections.
///
/// Every limit has a safe default, so a server that sets nothing is still protected from
/// oversized messages, slowloris handshakes, silent peers and slow consumers.
public struct WebSocketConfiguration: Sendable {
    /// What to do with a connection whose unsent output would grow past `maxBufferedAmount`.
    public enum SlowConsumerPolicy: Sendable {
        /// Drop the message for that connection (`send` returns `.dropped`); it stays open.
        case dropMessages
        /// Close the connection with 1008 (policy violation).
        case close
    }

    /// Largest frame and message accepted from the peer; beyond them the connection is closed
    /// with 1009.
    public var limits = FrameLimits()
    /// Most bytes a connection may have queued for sending and not yet handed to the kernel,
    /// copied or shared with other subscribers (`bufferedAmount`). A send that
    /// would take a non-empty queue past it is refused (per `slowConsumerPolicy`). A connection
    /// with nothing queued takes any message, so a message larger than this can still be sent.
    public var maxBufferedAmount = 1 << 20
    /// Most bytes all the connections of a server may have queued for sending together: their
    /// own copies, plus every shared topic batch counted once however many subscribers refer
    /// to it. A ``WebSocketServer`` gives each of its loops an equal share (no lock or atomic
    /// per message); a context made directly gets all of it.
    ///
    /// When a loop's share is in use, every send to a connection that still has a backlog
    /// (the slow consumers, which hold the memory) is refused per `slowConsumerPolicy`: with
    /// `.close` they are closed with 1008, which frees what they held; connections that keep
    /// up are not affected. ``WebSocketStatistics/outboundMemoryRefusals`` counts these
    /// refusals. The bound can be passed by what the kernel leaves of one message per
    /// connection that had nothing queued (shared batches count once in any case).
    ///
    /// The default is a quarter of the machine's memory, and at least 64 MiB.
    public var maxOutboundMemory = WebSocketConfiguration.defaultMaxOutboundMemory
    /// A quarter of the machine's physical memory, at least 64 MiB.
    public static var defaultMaxOutboundMemory: Int {
        max(64 << 20, ResourceLimits.physicalMemory / 4)
    }
    /// What a send does when the queue is at ``maxBufferedAmount``: close with 1008 (the default)
    /// or drop the message.
    public var slowConsumerPolicy = SlowConsumerPolicy.close
    /// Largest HTTP upgrade request head (request line and headers); beyond it: 431.
    public var maxRequestHeadBytes = 8 * 1024
    /// Time allowed from accept to a complete upgrade request (slowloris protection).
    public var handshakeTimeoutMilliseconds: Int64 = 10_000
    /// The server's plain HTTP requests: body size, keep-alive.
    public var http = HTTPServerConfiguration()
    /// A ping is sent after this long without input, and the connection is dropped when the
    /// next interval passes with no answer. 0 turns pings off.
    public var pingIntervalMilliseconds: Int64 = 30_000
    /// The connection is closed (1001) after this long without any input. 0 turns it off.
    public var idleTimeoutMilliseconds: Int64 = 0
    /// How long to wait for the peer's close frame (or, on the client, for the server to close
    /// TCP) after the closing handshake started.
    public var closeTimeoutMilliseconds: Int64 = 5_000
    /// permessage-deflate (RFC 7692): off by default. A server accepts the first offer it can
    /// satisfy; a client offers it. Received messages are limited by their inflated size
    /// (`limits.maxMessageSize`), and so are their compressed bytes.
    public var deflate = DeflateConfiguration()

    /// The defaults.
    public init() {}
}
