import ArgumentParser
import Logging
import Reactor
import Synchronization
import WebSocket

#if canImport(Glibc)
import Glibc
#endif

@main
struct PushwaveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushwave",
        abstract: "A WebSocket push server: echo, chat and topics, with a chat page at /.",
        discussion: """
            Endpoints: GET / (chat page), ws://HOST:PORT/echo, ws://HOST:PORT/chat, \
            ws://HOST:PORT/topics/NAME, GET /healthz, GET /metrics (Prometheus).
            SIGINT or SIGTERM: stop accepting, send 1001 to every client, wait for them \
            (at most --shutdown-timeout seconds), exit 0. A second signal exits at once.
            """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: "Event loops, one thread each.")
    var threads = 1

    @Option(help: "Largest message (and frame) accepted from a client, in bytes; larger ones are closed with 1009.")
    var maxMessageSize = 16 * 1024 * 1024

    @Option(help: "Most open connections; more are answered 503. Capped by the open-file limit.")
    var maxConnections = 100_000

    @Option(help: "Close a connection after this many seconds without input (0: never).")
    var idleTimeout = 0.0

    @Option(help: "Ping a silent connection after this many seconds, and drop it when the next interval passes unanswered (0: never).")
    var pingInterval = 30.0

    @Option(help: "Seconds a client has to send its complete upgrade request; then 408.")
    var handshakeTimeout = 10.0

    @Option(help: "Most bytes queued for one slow client before it is closed with 1008.")
    var maxBufferedBytes = 1 << 20

    @Option(help: "Seconds to wait for clients to close on shutdown.")
    var shutdownTimeout = 5.0

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Accept permessage-deflate (RFC 7692) offers; on by default.",
            discussion: """
                Compression runs without context takeover in both directions, so an idle \
                connection holds no zlib memory, the loop's compressor and decompressor are \
                shared, and a publish is compressed once per loop for all its subscribers. \
                Messages under --deflate-threshold go out plain and cost nothing extra. \
                Turn it off when CPU matters more than bandwidth.
                """))
    var deflate = true

    @Option(help: "Messages shorter than this many bytes are sent uncompressed.")
    var deflateThreshold = 128

    @Flag(help: "Benchmark the reactor alone: answer any request with a canned 101, then echo bytes unchanged.")
    var rawEcho = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be between 1 and 256") }
        guard maxMessageSize > 0, maxMessageSize <= FrameLimits.largestSupportedSize else {
            throw ValidationError("--max-message-size must be between 1 and \(FrameLimits.largestSupportedSize)")
        }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard idleTimeout >= 0, pingInterval >= 0, shutdownTimeout >= 0, handshakeTimeout > 0 else {
            throw ValidationError("timeouts must not be negative")
        }
        guard deflateThreshold >= 0 else { throw ValidationError("--deflate-threshold must not be negative") }
        guard maxBufferedBytes >= 1024 else { throw ValidationError("--max-buffered-bytes must be at least 1024") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "pushwave")
        let signals = SignalWaiter()
        let connectionLimit = Self.connectionLimit(wanted: maxConnections, logger: logger)

        let group = try EventLoopGroup(count: threads)
        let address: SocketAddress
        let server: WebSocketServer?
        do {
            let requested = try SocketAddress(host: host, port: port)
            if rawEcho {
                server = nil
                address = try Self.listenRawEcho(on: group.loops, address: requested)
            } else {
                let metrics = MetricsBoard()
                let router = Router(metrics: metrics)
                let websocket = WebSocketServer(configuration: webSocketConfiguration, logger: logger) { router.respond(to: $0) }
                address = try websocket.listen(on: group.loops, address: requested, maxConnections: connectionLimit, backlog: 4096)
                metrics.attach(websocket)
                server = websocket
            }
        } catch let error as SystemError where error.code == EADDRINUSE {
            throw ValidationError("cannot listen on \(host):\(port): the address is already in use")
        } catch {
            throw ValidationError("cannot listen on \(host):\(port): \(error)")
        }
        try group.start { _ in }
        logger.info(
            "pushwave listening",
            metadata: [
                "address": "\(address)", "mode": "\(rawEcho ? "raw-echo" : "websocket")", "threads": "\(threads)",
                "max_message_size": "\(maxMessageSize)", "max_connections": "\(connectionLimit)",
                "idle_timeout_s": "\(idleTimeout)", "ping_interval_s": "\(pingInterval)",
            ])

        _ = signals.wait()
        logger.info("shutting down: closing connections with 1001")
        server?.drain()
        let closedAll = Self.waitForConnectionsToClose(group, seconds: shutdownTimeout, signals: signals)
        if closedAll == nil {
            logger.warning("second signal: exiting at once")
            Glibc.exit(1)
        }
        group.stop()
        group.wait()
        logger.info("stopped", metadata: ["all_clients_closed": "\(closedAll ?? false)"])
    }

    private var webSocketConfiguration: WebSocketConfiguration {
        var configuration = WebSocketConfiguration()
        configuration.limits = FrameLimits(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize)
        configuration.idleTimeoutMilliseconds = Int64(idleTimeout * 1000)
        configuration.pingIntervalMilliseconds = Int64(pingInterval * 1000)
        configuration.maxBufferedAmount = maxBufferedBytes
        configuration.handshakeTimeoutMilliseconds = Int64(handshakeTimeout * 1000)
        configuration.deflate = DeflateConfiguration(
            isEnabled: deflate, thresholdBytes: deflateThreshold,
            serverNoContextTakeover: true, clientNoContextTakeover: true)
        return configuration
    }

    private static func listenRawEcho(on loops: [EventLoop], address: SocketAddress) throws -> SocketAddress {
        var options = TCPListener.Options()
        options.backlog = 4096
        return try TCPListener.open(on: loops, address: address, options: options) { _ in
            { RawEchoConnection(loop: $0) }
        }.address
    }

    /// Raises the open-file limit for `wanted` connections, and caps the connection limit to
    /// what it allows (keeping some descriptors for listeners and the loops themselves).
    private static func connectionLimit(wanted: Int, logger: Logger) -> Int {
        let reserved = 64
        let limit = ResourceLimits.raiseOpenFileLimit(wanted: min(wanted, Int.max - reserved) + reserved)
        let available = limit - reserved
        guard wanted > available else { return wanted }
        logger.warning(
            "--max-connections exceeds the open-file limit; capping it",
            metadata: ["requested": "\(wanted)", "capped_to": "\(max(1, available))", "open_file_limit": "\(limit)"])
        return max(1, available)
    }

    /// Waits until every loop has no connection left, or `seconds` pass. Returns whether all
    /// closed, or nil when a second signal came first.
    private static func waitForConnectionsToClose(_ group: EventLoopGroup, seconds: Double, signals: SignalWaiter) -> Bool? {
        let remaining = Atomic<Int>(0)
        let deadline = MonotonicClock.milliseconds() + Int64(seconds * 1000)
        while MonotonicClock.milliseconds() < deadline {
            remaining.store(0, ordering: .relaxed)
            let answered = Atomic<Int>(0)
            for loop in group.loops {
                loop.execute {
                    remaining.add(loop.connectionCount, ordering: .relaxed)
                    answered.add(1, ordering: .releasing)
                }
            }
            if signals.wait(milliseconds: 50) != nil { return nil }
            if answered.load(ordering: .acquiring) == group.loops.count, remaining.load(ordering: .relaxed) == 0 {
                return true
            }
        }
        return false
    }
}
