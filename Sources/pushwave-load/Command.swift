import Push
import ArgumentParser
import Reactor
import TLS
import WebSocket

#if canImport(Glibc)
import Glibc
#endif

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushwave-load",
        abstract: "A WebSocket load generator: echo round trips, topic fan-out, and connection storms.",
        discussion: """
            Prints a report at the end; with --json, the last line of standard output is one JSON \
            object (and the readable report goes to standard error). Exits with status 1 when more \
            than --max-errors errors occurred or nothing was measured.
            """,
        subcommands: [EchoCommand.self, PushCommand.self, ConnectCommand.self, PublishCommand.self, RecoverCommand.self])
}

/// Options every mode takes: threads, processes, source addresses and the report.
struct RunOptions: ParsableArguments {
    @Option(help: "Event loops (threads) per process. Default: the number of processors.")
    var threads: Int?

    @Option(help: "Local addresses to connect from, round-robin: a range (127.0.0.1-127.0.0.8) or a comma list. Each address has its own ~28k ephemeral ports.")
    var sourceAddresses: String?

    @Option(help: "Spread the connections over this many child processes, merged into one report.")
    var processes = 1

    @Flag(help: "Print the report as one JSON object on the last line of standard output.")
    var json = false

    @Option(help: "Exit with status 1 when more errors than this occur.")
    var maxErrors = 0

    @Option(help: .hidden)
    var childIndex: Int?

    @Option(help: .hidden)
    var childCount: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
        guard (1...256).contains(processes) else { throw ValidationError("--processes must be between 1 and 256") }
        guard maxErrors >= 0 else { throw ValidationError("--max-errors must not be negative") }
        if let sourceAddresses { _ = try parseSourceAddresses(sourceAddresses) }
        if let childIndex, let childCount {
            guard childCount > 0, (0..<childCount).contains(childIndex) else { throw ValidationError("bad child index") }
        }
    }

    /// The plan's common part, for connections to `url`; the mode fills in the rest.
    func plan(mode: Mode, url: WebSocketURL) throws -> RunPlan {
        let processCount = childCount ?? processes
        let cores = processorCount()
        let defaultThreads = processCount > 1 ? max(1, cores / processCount) : cores
        var plan = RunPlan(
            mode: mode, url: url, threads: threads ?? defaultThreads,
            sources: try sourceAddresses.map(parseSourceAddresses) ?? [],
            maxMessageSize: 64 * 1024 * 1024, json: json, maxErrors: maxErrors)
        plan.processCount = processCount
        plan.processIndex = childIndex ?? 0
        plan.isChild = childIndex != nil
        return plan
    }
}

/// Options of the WebSocket modes (echo, push, connect).
struct CommonOptions: ParsableArguments {
    @Option(help: "The WebSocket URL, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH (numeric host or localhost).")
    var url: String

    @Option(help: "wss://: trust the CA certificates in this PEM file (default: the system store).")
    var ca: String?

    @Flag(help: "wss://: accept any server certificate (for load tests against test certificates).")
    var insecure = false

    @Option(help: "Largest message accepted from the server, in bytes.")
    var maxMessageSize = 64 * 1024 * 1024

    @Flag(help: "Offer permessage-deflate (RFC 7692), without context takeover unless --deflate-context-takeover.")
    var deflate = false

    @Flag(help: "With --deflate: keep compression contexts between messages (both directions).")
    var deflateContextTakeover = false

    @Option(help: "With --deflate: the largest window both compressors may use, as a power of two (8–15).")
    var deflateWindowBits = 15

    @Option(help: "What payloads look like: pattern (compresses to almost nothing) or json (compresses like real JSON).")
    var payload = PayloadStyle.pattern

    @Option(help: "A file holding a connection token (JWT) that every WebSocket connection presents; also: the environment variable PUSHWAVE_LOAD_TOKEN (never a command-line value: it would show in ps).")
    var tokenFile: String?

    @Option(help: "How the token goes with the upgrade: header (Authorization: Bearer) or query (?token=).")
    var tokenIn = TokenPlacement.header

    @OptionGroup var run: RunOptions

    func validate() throws {
        _ = try WebSocketURL(url)
        guard ca == nil || !insecure else { throw ValidationError("--ca and --insecure exclude each other") }
        guard maxMessageSize > 0 else { throw ValidationError("--max-message-size must be positive") }
        guard DeflateConfiguration.windowBitsRange.contains(deflateWindowBits) else {
            throw ValidationError("--deflate-window-bits must be between 8 and 15")
        }
        _ = try connectionToken()
    }

    /// The client TLS context for a wss:// URL, as --ca and --insecure say; nil for ws://.
    private func tlsContext(for url: WebSocketURL) throws -> TLSContext? {
        guard url.isSecure else { return nil }
        let trust: TLSTrust = insecure ? .anyCertificate : ca.map { .certificateAuthority(path: $0) } ?? .system
        return try TLSContext.client(trust: trust)
    }

    /// The token from --token-file, else from PUSHWAVE_LOAD_TOKEN; nil when neither is given.
    func connectionToken() throws -> String? {
        if let tokenFile {
            let text = try readSecretFile(tokenFile)
            guard !text.isEmpty else { throw ValidationError("--token-file \(tokenFile) is empty") }
            return text
        }
        guard let value = getenv("PUSHWAVE_LOAD_TOKEN").map({ String(cString: $0) }), !value.isEmpty else { return nil }
        return value
    }

    /// The plan's common part; the mode fills in the rest.
    func plan(mode: Mode) throws -> RunPlan {
        var target = try WebSocketURL(url)
        var headers: [(name: String, value: String)] = []
        if let token = try connectionToken() {
            switch tokenIn {
            case .header:
                headers.append(("Authorization", "Bearer \(token)"))
            case .query:
                target = try WebSocketURL(url + (target.path.contains("?") ? "&" : "?") + "token=" + token)
            }
        }
        var plan = try run.plan(mode: mode, url: target)
        plan.upgradeHeaders = headers
        plan.maxMessageSize = maxMessageSize
        plan.tls = try tlsContext(for: plan.url)
        if deflate {
            plan.deflate = DeflateConfiguration(
                isEnabled: true, serverNoContextTakeover: !deflateContextTakeover,
                clientNoContextTakeover: !deflateContextTakeover,
                serverMaxWindowBits: deflateWindowBits, clientMaxWindowBits: deflateWindowBits)
        }
        plan.payloadStyle = payload
        return plan
    }
}

/// `--token-in`: where a connection's token goes in the upgrade request.
enum TokenPlacement: String, ExpressibleByArgument, CaseIterable, Sendable {
    case header
    case query
}

struct EchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Round trips through an echo endpoint: throughput and latency, every echo checked.",
        discussion: """
            Closed loop (default): each connection keeps --pipeline messages in flight and sends \
            one more per echo. Open loop (--rate): messages leave on a fixed schedule whatever the \
            replies, and latency counts from when each was due (no coordinated omission).
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Connections.")
    var connections = 10

    @Option(help: "Payload bytes per message.")
    var size = 16

    @Flag(help: "Binary messages (default: text, ASCII payloads).")
    var binary = false

    @Option(help: "Messages in flight per connection (closed loop).")
    var pipeline: Int?

    @Option(help: "Messages per second over all connections (open loop); replaces --pipeline.")
    var rate: Double?

    @Option(help: "Seconds measured.")
    var duration = 10.0

    @Option(help: "Seconds of traffic before measuring starts (not counted).")
    var warmup = 0.0

    @Flag(help: "The server writes our bytes back unchanged (frames still masked): compare the raw byte stream.")
    var rawEcho = false

    func validate() throws {
        guard connections > 0 else { throw ValidationError("--connections must be positive") }
        guard size >= 0, size <= common.maxMessageSize else { throw ValidationError("--size must be between 0 and --max-message-size") }
        if let pipeline, !(1...1_000_000).contains(pipeline) { throw ValidationError("--pipeline must be at least 1") }
        if let rate {
            guard rate > 0, rate.isFinite else { throw ValidationError("--rate must be positive") }
            guard pipeline == nil else { throw ValidationError("--rate and --pipeline exclude each other") }
        }
        guard duration > 0, warmup >= 0 else { throw ValidationError("--duration must be positive and --warmup not negative") }
    }

    func run() throws {
        var plan = try common.plan(mode: .echo)
        plan.connections = connections
        plan.size = size
        plan.binary = binary
        plan.pipeline = pipeline ?? 1
        plan.rate = rate
        plan.duration = duration
        plan.warmup = warmup
        guard !(rawEcho && plan.url.isSecure) else { throw ValidationError("--raw-echo does not speak TLS") }
        plan.rawEcho = rawEcho
        try execute(plan)
    }
}

struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Fan-out through a topic: publishers send, every subscriber checks order and latency.",
        discussion: """
            Subscribers and publishers all connect to --url (a topic endpoint such as \
            ws://127.0.0.1:8080/topics/bench, where every message sent is published to every \
            connection). Each payload carries its publisher, a sequence number and its intended \
            publish time; latency is publish-to-delivery. With --messages M, exactly M messages \
            are published at --rate and fanout_ms is the time from the first publish until the \
            last subscriber has the last message. With --publish-url the publishers connect \
            there instead (another node of servers joined through Redis: the latency is then \
            from a publish on one node to the delivery on the other). An http:// --publish-url \
            (http://HOST:PORT/api/publish/NAME) publishes through the server's HTTP API instead, \
            one keep-alive connection per publisher, with the key from PUSHWAVE_API_KEY: \
            fanout_ms is then the time from the first HTTP request to the last delivery.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Subscribers.")
    var subscribers = 10

    @Option(help: "Publishers.")
    var publishers = 1

    @Option(help: "Where the publishers connect (default: --url), e.g. the same topic on another node, same scheme as --url; or http://HOST:PORT/api/publish/NAME to publish over HTTP.")
    var publishURL: String?

    @Option(help: "Messages published per second, over all publishers.")
    var rate = 1000.0

    @Option(help: "Payload bytes per message (at least 32).")
    var size = 64

    @Flag(help: "Binary messages (default: text, ASCII payloads).")
    var binary = false

    @Option(help: "Seconds measured (without --messages).")
    var duration = 10.0

    @Option(help: "Seconds of publishing before measuring starts (without --messages).")
    var warmup = 0.0

    @Option(help: "Publish exactly this many messages in all, then wait for them (up to --wait seconds) and report fanout_ms.")
    var messages: Int?

    @Option(help: "Seconds to wait, after the last message was due, for deliveries still on their way.")
    var wait = 2.0

    @Option(help: "Seconds every connection stays open and idle (answering the server's pings) before publishing starts.")
    var hold = 0.0

    @Option(help: "What subscribers speak: raw (the --url topic endpoint, no envelope) or ws (the server's /ws, subscribed to the --url topic, messages in envelopes). Publishers use --url (or --publish-url) as they are.")
    var `protocol` = SubscriberProtocol.raw

    func validate() throws {
        guard subscribers >= 0, publishers > 0, publishers <= 65535 else {
            throw ValidationError("--publishers must be between 1 and 65535, --subscribers not negative")
        }
        guard rate > 0, rate.isFinite else { throw ValidationError("--rate must be positive") }
        guard size >= RunPlan.pushHeaderSize, size <= common.maxMessageSize else {
            throw ValidationError("--size must be at least \(RunPlan.pushHeaderSize) (publisher, sequence and timestamp)")
        }
        guard duration > 0, warmup >= 0 else { throw ValidationError("--duration must be positive and --warmup not negative") }
        if let messages { guard messages > 0 else { throw ValidationError("--messages must be positive") } }
        guard hold >= 0, hold.isFinite else { throw ValidationError("--hold must not be negative") }
        guard wait >= 0, wait.isFinite else { throw ValidationError("--wait must not be negative") }
        if let publishURL, !publishURL.hasPrefix("http://") {
            let parsed = try WebSocketURL(publishURL)
            guard parsed.isSecure == (try WebSocketURL(common.url)).isSecure else {
                throw ValidationError("--publish-url must use the scheme of --url (one TLS setting for both)")
            }
        }
    }

    func run() throws {
        var plan = try common.plan(mode: .push)
        plan.subscribers = subscribers
        plan.publishers = publishers
        if let publishURL, publishURL.hasPrefix("http://") {
            plan.httpTarget = try HTTPTarget(publishURL, key: HTTPTarget.keyFromEnvironment(), bodySize: size, kind: plan.kind)
        } else {
            plan.publishURL = try publishURL.map { try WebSocketURL($0) }
        }
        plan.rate = rate
        plan.size = size
        plan.binary = binary
        plan.duration = duration
        plan.warmup = messages == nil ? warmup : 0
        plan.messages = messages
        plan.hold = hold
        plan.deliveryWait = wait
        if `protocol` == .ws {
            guard let envelope = try EnvelopeSubscription(rawURL: plan.url) else {
                throw ValidationError("--protocol ws needs a --url of a topic: /topics/NAME or /chat")
            }
            guard plan.payloadStyle == .pattern else { throw ValidationError("--protocol ws needs --payload pattern") }
            plan.envelope = envelope
        }
        try execute(plan)
    }
}

/// `push --protocol`: how subscribers receive publications.
enum SubscriberProtocol: String, ExpressibleByArgument, CaseIterable {
    case raw
    case ws
}

struct ConnectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Open many connections at a given rate, hold them idle, close them: connect latency and failures.",
        discussion: """
            At the end every connection is closed with a close frame (1000), all at once; only \
            with --measure-close is that closing checked and timed. A signal (Ctrl-C, SIGINT, \
            SIGTERM) ends the hold early: with --processes, signal the process group so that \
            every child closes at the same moment.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Connections.")
    var connections = 100

    @Option(help: "New connections per second, over all processes.")
    var connectRate = 1000.0

    @Option(help: "Instead of --connect-rate: keep this many handshakes in flight per thread, each that ends starting the next; the report gives handshakes per second.")
    var inFlight: Int?

    @Option(help: "Seconds to hold the connections open once all are connected.")
    var duration = 10.0

    @Flag(help: "Measure the closing after the hold: every connection sends its close frame (1000) at once and waits for the server's close frame and then its end of the TCP connection; reports clean closes and closes/s, and counts as close_failed every connection whose server answered with another code, did not answer, or did not close within --close-timeout.")
    var measureClose = false

    @Option(help: "With --measure-close: seconds the closing may take in all.")
    var closeTimeout = 10.0

    func validate() throws {
        guard connections > 0 else { throw ValidationError("--connections must be positive") }
        guard connectRate > 0, connectRate.isFinite else { throw ValidationError("--connect-rate must be positive") }
        guard duration >= 0 else { throw ValidationError("--duration must not be negative") }
        if let inFlight { guard inFlight > 0 else { throw ValidationError("--in-flight must be positive") } }
        guard closeTimeout > 0, closeTimeout <= 3600 else { throw ValidationError("--close-timeout must be between 0 and 3600 seconds") }
    }

    func run() throws {
        var plan = try common.plan(mode: .connect)
        plan.connections = connections
        plan.connectRate = connectRate
        plan.connectInFlight = inFlight
        plan.duration = duration
        plan.closing = measureClose ? .measured(timeout: closeTimeout) : .teardown
        try execute(plan)
    }
}

struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publishes through the HTTP API over keep-alive connections: publishes/s, latency, answers by status.",
        discussion: """
            Each connection sends POST requests to --url (http://HOST:PORT/api/publish/NAME) \
            with the key from the environment variable PUSHWAVE_API_KEY (never a command-line \
            value: it would show in ps) and a body of --size bytes, keeping --pipeline requests \
            in flight: each answer sends the next one. Counts the 200 answers (their latency is \
            from sending the request to the end of its answer) and every other status. Runs for \
            --duration seconds, or until --count publishes are answered (then --duration bounds \
            the wait, and the rate is over the time the answers took).
            """)

    @Option(help: "The publish endpoint, http://HOST:PORT/api/publish/NAME.")
    var url: String

    @Option(help: "Keep-alive connections.")
    var connections = 1

    @Option(help: "Requests in flight per connection (1: request, answer, request).")
    var pipeline = 1

    @Option(help: "Body bytes per publish.")
    var size = 64

    @Flag(help: "Binary publishes (Content-Type application/octet-stream; default: text/plain, ASCII bodies).")
    var binary = false

    @Option(help: "Seconds measured; with --count, the longest the run may take.")
    var duration = 10.0

    @Option(help: "Publish exactly this many in all (shared over the connections), then stop.")
    var count: Int?

    @OptionGroup var common: RunOptions

    func validate() throws {
        guard url.hasPrefix("http://") else { throw ValidationError("--url must be http://HOST:PORT/api/publish/NAME") }
        guard (1...100_000).contains(connections) else { throw ValidationError("--connections must be between 1 and 100000") }
        guard (1...100_000).contains(pipeline) else { throw ValidationError("--pipeline must be between 1 and 100000") }
        guard size >= 0 else { throw ValidationError("--size must not be negative") }
        guard duration > 0, duration.isFinite else { throw ValidationError("--duration must be positive") }
        if let count { guard count > 0 else { throw ValidationError("--count must be positive") } }
    }

    func run() throws {
        let target = try HTTPTarget(url, key: HTTPTarget.keyFromEnvironment(), bodySize: size, kind: binary ? .binary : .text)
        var plan = try common.plan(mode: .publish, url: target.webSocketTwin)
        plan.httpTarget = target
        plan.connections = connections
        plan.pipeline = pipeline
        plan.size = size
        plan.binary = binary
        plan.duration = duration
        plan.messages = count
        try execute(plan)
    }
}

/// Runs a plan (here, or over child processes), prints the report, and exits with status 1
/// when the run failed.
private func execute(_ plan: RunPlan) throws {
    signal(SIGPIPE, SIG_IGN)
    let showProgress = isatty(1) != 0 && !plan.isChild
    let result: ProcessResult
    var failures: [String] = []
    do {
        if plan.processCount > 1, !plan.isChild {
            (result, failures) = try ParentRun(plan: plan, showProgress: showProgress).run()
        } else {
            result = try LocalRun(plan: plan, showProgress: showProgress).run()
        }
    } catch {
        printError("pushwave-load: \(error)")
        throw ExitCode(2)
    }

    if plan.isChild {
        var child = result.totals.childJSON
        if case .object(var fields) = child {
            fields.append(("error_details", .object(result.details.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })))
            child = .object(fields)
        }
        printOutput(JSON.object([("child", child)]).serialized)
        return
    }

    let report = Report(plan: plan, totals: result.totals, details: result.details, failures: failures)
    if plan.json {
        printError(report.text)
        printOutput(report.json.serialized)
    } else {
        printOutput(report.text)
    }
    if !report.succeeded { throw ExitCode(1) }
}

extension PayloadStyle: ExpressibleByArgument {}
