import ArgumentParser
import Logging
import CoreMetrics
import Prometheus
import CEpollShim
import Dispatch
import Reactor
import Push
import Synchronization
import WebSocketService
import ServiceLifecycle
import TLS
import WebSocket

#if canImport(Glibc)
import Glibc
#endif

@main
struct PushwaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushwave",
        abstract: "A WebSocket push server: echo, chat and topics, with a chat page at /.",
        discussion: """
            Endpoints: GET / (chat page), ws://HOST:PORT/echo, ws://HOST:PORT/chat, \
            ws://HOST:PORT/topics/NAME, GET /healthz, GET /metrics (Prometheus).
            SIGINT or SIGTERM: stop accepting, send 1001 to every client, wait for them \
            (at most --shutdown-timeout seconds), exit 0. A second signal exits at once.
            With --tls-cert and --tls-key the server speaks only TLS (wss://, https://); \
            SIGHUP reloads the certificate files for new connections, keeping open ones.
            Every option can also be set by the environment variable PUSHWAVE_ + its name \
            upper-cased with - as _ (--max-message-size: PUSHWAVE_MAX_MESSAGE_SIZE), or by a \
            'name = value' line in the --config file; a flag wins over the environment, \
            which wins over the file.
            """)

    /// Parses the command line completed by the environment and the config file, then runs.
    /// A bad value that came from either is reported with its source.
    static func main() {
        // Before any thread exists, so that every thread inherits the mask (SignalService).
        SignalService.blockInEveryThread()
        let commandLine = Array(CommandLine.arguments.dropFirst())
        let resolver: SettingsResolver
        do {
            resolver = try SettingsResolver(
                commandLine: commandLine,
                environment: { getenv($0).map { String(cString: $0) } },
                readFile: SettingsResolver.readFile)
        } catch {
            exit(withError: error)
        }
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(resolver.arguments)
        } catch {
            let message = Self.message(for: error)
            if let source = resolver.source(of: message) { exit(withError: ValidationError("\(source): \(message)")) }
            exit(withError: error)
        }
        do {
            if let command = command as? PushwaveCommand, command.processes > 1, command.workerIndex == nil {
                try command.supervise(commandLine: commandLine)
            } else if let command = command as? PushwaveCommand {
                try command.runBlocking()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// `--processes N`: starts and supervises the workers; returns only by exiting.
    private func supervise(commandLine: [String]) throws {
        bootstrapLogging()
        let logger = Logger(label: "pushwave")
        let supervisor = try WorkerSupervisor(
            count: processes, arguments: ["pushwave"] + WorkerSupervisor.workerCommandLine(commandLine),
            maxConnections: maxConnections, logger: logger)
        try supervisor.run()
    }

    /// Runs the async `run()` on the concurrency runtime's threads while the main thread
    /// blocks on a semaphore. An `async` main would park the main thread in Dispatch's
    /// `dispatch_main` (a `sigsuspend` loop), which Valgrind's tools cannot run; blocked on a
    /// semaphore, `pushwave` stays measurable with callgrind.
    private func runBlocking() throws {
        let outcome = Outcome()
        let finished = DispatchSemaphore(value: 0)
        Task { [self] in
            do {
                try await run()
            } catch {
                outcome.error.withLock { $0 = error }
            }
            finished.signal()
        }
        finished.wait()
        if let error = outcome.error.withLock({ $0 }) { throw error }
    }

    @Option(help: ArgumentHelp("A file of 'name = value' lines setting options by their flag names (# starts a comment).", valueName: "path"))
    var config: String?

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: "Event loops, one thread each.")
    var threads = 1

    @Option(help: "Worker processes sharing the port (SO_REUSEPORT), each with --threads loops and its own descriptor limit; supervised. Topics span the workers only with --redis; /metrics sums every worker's figures.")
    var processes = 1

    @Option(help: .hidden)
    var workerIndex: Int?

    /// Set by the supervisor for its workers: where they share their figures for `/metrics`.
    @Option(help: .hidden)
    var metricsDirectory: String?

    @Option(help: "Largest message (and frame) accepted from a client, in bytes; larger ones are closed with 1009. Also the largest publish API body (larger: 413).")
    var maxMessageSize = 1024 * 1024

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

    @Option(help: ArgumentHelp(
        "Most bytes queued for all slow clients together (default: a quarter of the machine's memory).",
        discussion: """
            A message published to many clients counts once. When the budget is in use, \
            clients that still have a backlog are closed (1008) as they are sent more.
            """))
    var maxOutboundMemory: Int?

    @Option(help: "Seconds to wait for clients to close on shutdown.")
    var shutdownTimeout = 5.0

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(help: "TLS certificate chain (PEM, leaf first). Repeat with --tls-key for more certificates, chosen by SNI; the first is the default.")
    var tlsCert: [String] = []

    @Option(help: "TLS private key (PEM) of the --tls-cert at the same position.")
    var tlsKey: [String] = []

    @Option(help: "CA certificates (PEM): clients must present a certificate signed by one (mTLS).")
    var tlsClientCa: String?

    @OptionGroup(title: "permessage-deflate")
    var compression: DeflateOptions

    @Flag(help: "Benchmark the reactor alone: answer any request with a canned 101, then echo bytes unchanged.")
    var rawEcho = false

    @OptionGroup(title: "Push server")
    var push: PushOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be between 1 and 256") }
        guard (1...1024).contains(processes) else { throw ValidationError("--processes must be between 1 and 1024") }
        guard processes == 1 || port != 0 else { throw ValidationError("--processes needs a fixed --port: every worker listens on it") }
        guard maxMessageSize > 0, maxMessageSize <= FrameLimits.largestSupportedSize else {
            throw ValidationError("--max-message-size must be between 1 and \(FrameLimits.largestSupportedSize)")
        }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard idleTimeout >= 0, pingInterval >= 0, shutdownTimeout >= 0, handshakeTimeout > 0 else {
            throw ValidationError("timeouts must not be negative")
        }
        guard maxBufferedBytes >= 1024 else { throw ValidationError("--max-buffered-bytes must be at least 1024") }
        guard (maxOutboundMemory ?? 1 << 20) >= 1 << 20 else { throw ValidationError("--max-outbound-memory must be at least 1048576") }
        guard tlsCert.count == tlsKey.count else { throw ValidationError("give one --tls-key per --tls-cert") }
        guard tlsClientCa == nil || !tlsCert.isEmpty else { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
        guard tlsCert.isEmpty || !rawEcho else { throw ValidationError("--raw-echo does not speak TLS") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        bootstrapLogging()
        if workerIndex != nil {
            // A worker ends with its supervisor, however the supervisor ends.
            _ = pw_set_parent_death_signal(SIGTERM)
        }
        let logger = Logger(label: workerIndex.map { "pushwave.worker.\($0)" } ?? "pushwave")
        let connectionLimit = Self.connectionLimit(wanted: maxConnections, logger: logger)
        // Sized once here rather than grown by accept, which stalls the loop while it grows.
        ResourceLimits.reserveDescriptorTable(count: connectionLimit + Self.reservedDescriptors)

        // Bad files end the program before it listens, with the reason (TLSError) and status 1.
        let tls = try makeTLSContext()
        let group = try EventLoopGroup(count: threads)
        let address: SocketAddress
        let server: PushServer?
        do {
            let requested = try SocketAddress(host: host, port: port)
            if rawEcho {
                server = nil
                address = try Self.listenRawEcho(on: group.loops, address: requested, sharesPort: workerIndex != nil)
            } else {
                // Process-wide, as swift-metrics wants: libraries that report through it
                // show up at /metrics too.
                let registry = PrometheusCollectorRegistry()
                MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
                var workers: WorkerMetricsFiles?
                if let workerIndex, let metricsDirectory {
                    workers = WorkerMetricsFiles(directory: metricsDirectory, index: workerIndex, count: processes, logger: logger)
                }
                let metrics = MetricsBoard(registry: registry, workers: workers)
                let pages = Pages(metrics: metrics)
                let pushServer = PushServer(
                    configuration: try push.configuration(logger: logger), webSocket: webSocketConfiguration, logger: logger
                ) { pages.respond(to: $0) }
                address = try pushServer.listen(
                    on: group.loops, address: requested, maxConnections: connectionLimit, backlog: 4096, tls: tls, sharesPort: workerIndex != nil)
                metrics.attach(pushServer)
                server = pushServer
            }
        } catch let error as RuntimeError {
            error.exit()
        } catch let error as SystemError where error.code == EADDRINUSE {
            RuntimeError("cannot listen on \(host):\(port): the address is already in use").exit()
        } catch {
            RuntimeError("cannot listen on \(host):\(port): \(error)").exit()
        }
        logger.info(
            "pushwave listening",
            metadata: [
                "address": "\(address)", "mode": "\(rawEcho ? "raw-echo" : "websocket")", "threads": "\(threads)",
                "max_message_size": "\(maxMessageSize)", "max_connections": "\(connectionLimit)",
                "max_outbound_memory": "\(webSocketConfiguration.maxOutboundMemory)",
                "idle_timeout_s": "\(idleTimeout)", "ping_interval_s": "\(pingInterval)",
                "tls": "\(tls != nil)",
            ])
        try await runServices(server: server, group: group, logger: logger)
    }

    /// Runs until SIGINT or SIGTERM as one `ServiceGroup`: the server (started, then drained
    /// with 1001 to every client, bounded by --shutdown-timeout) and the signals the group does
    /// not handle itself (SIGHUP, a second SIGINT/SIGTERM).
    private func runServices(server: PushServer?, group: EventLoopGroup, logger: Logger) async throws {
        let main: any Service =
            if let server {
                WebSocketService(
                    server: server.websocket, group: group,
                    shutdownTimeout: .milliseconds(Int64(shutdownTimeout * 1000)), logger: logger)
            } else {
                ReactorService(group: group, logger: logger)
            }
        let command = self
        let signals = SignalService(reload: { command.reload(server, logger: logger) }, logger: logger)
        let services = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [signals, main], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
    }

    private func bootstrapLogging() {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// SIGHUP: re-reads what can change while running: the API keys and the TLS files.
    private func reload(_ server: PushServer?, logger: Logger) {
        guard let server else { return }
        do {
            server.configuration.apiKeys.replace(with: try push.apiKeys())
            logger.notice("SIGHUP: API keys reloaded")
        } catch {
            logger.error("SIGHUP: keeping the old API keys", metadata: ["error": "\(error)"])
        }
        reloadTLS(into: server.websocket, logger: logger)
    }

    /// The server context from the --tls-* files, or nil without them.
    private func makeTLSContext() throws -> TLSContext? {
        guard !tlsCert.isEmpty else { return nil }
        let certificates = zip(tlsCert, tlsKey).map { TLSCertificateFiles(chainPath: $0, keyPath: $1) }
        return try TLSContext.server(certificates: certificates, clientCertificateAuthority: tlsClientCa)
    }

    /// New connections get the files as they are now; a file that no longer loads leaves
    /// the running certificates in place.
    private func reloadTLS(into server: WebSocketServer, logger: Logger) {
        guard !tlsCert.isEmpty else { return }
        do {
            if let tls = try makeTLSContext() { server.replaceTLSContext(tls) }
            logger.notice("SIGHUP: TLS certificates reloaded")
        } catch {
            logger.error("SIGHUP: TLS certificates not reloaded, keeping the old ones", metadata: ["error": "\(error)"])
        }
    }

    private var webSocketConfiguration: WebSocketConfiguration {
        var configuration = WebSocketConfiguration()
        configuration.limits = FrameLimits(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize)
        configuration.idleTimeoutMilliseconds = Int64(idleTimeout * 1000)
        configuration.pingIntervalMilliseconds = Int64(pingInterval * 1000)
        configuration.maxBufferedAmount = maxBufferedBytes
        configuration.maxOutboundMemory = maxOutboundMemory ?? WebSocketConfiguration.defaultMaxOutboundMemory
        // One limit for what a client may publish, over a socket or the HTTP API.
        configuration.http.maxRequestBodyBytes = maxMessageSize
        configuration.handshakeTimeoutMilliseconds = Int64(handshakeTimeout * 1000)
        configuration.deflate = compression.configuration
        return configuration
    }

    private static func listenRawEcho(on loops: [EventLoop], address: SocketAddress, sharesPort: Bool) throws -> SocketAddress {
        var options = TCPListener.Options()
        options.backlog = 4096
        options.reusePort = sharesPort
        return try TCPListener.open(on: loops, address: address, options: options) { _ in
            { RawEchoConnection(loop: $0) }
        }.address
    }

    /// Descriptors kept apart from connections: listeners, the loops' epoll and eventfd
    /// descriptors, files.
    private static let reservedDescriptors = 64

    /// Raises the open-file limit for `wanted` connections, and caps the connection limit to
    /// what it allows (keeping some descriptors for listeners and the loops themselves).
    private static func connectionLimit(wanted: Int, logger: Logger) -> Int {
        let reserved = reservedDescriptors
        let limit = ResourceLimits.raiseOpenFileLimit(wanted: min(wanted, Int.max - reserved) + reserved)
        let available = limit - reserved
        guard wanted > available else { return wanted }
        logger.warning(
            "--max-connections exceeds the open-file limit; capping it",
            metadata: ["requested": "\(wanted)", "capped_to": "\(max(1, available))", "open_file_limit": "\(limit)"])
        return max(1, available)
    }
}

/// The error `run()` ended with, handed from its task to the blocked main thread.
private final class Outcome: Sendable {
    let error = Mutex<(any Error)?>(nil)
}
