import Logging
import Reactor

/// A connection to one Redis server on an event loop: pipelined commands whose replies go
/// to their handlers in order, or (as a subscriber) `SUBSCRIBE` and the `message` pushes.
///
/// It reconnects by itself with `ReconnectBackoff`. While it is not connected, commands wait
/// in a queue of at most `maxQueued` (beyond it they fail at once with `.queueFull`) and are
/// sent when it is back; commands already sent when the connection drops fail with
/// `.connectionLost`. A subscriber's channels are not queued: `onReady` runs after every
/// (re)connect, and its owner subscribes again there.
///
/// Commands are pipelined per loop iteration: whatever is sent during one iteration is
/// gathered and written with one system call by the loop's flush hook, before it waits for
/// events (or earlier, once `flushThreshold` bytes are waiting). At a high command rate this
/// is what keeps both this process and Redis from paying one `write`/`read` per command.
///
/// With `probeInterval`, the connection sends `PING` that often while it is up, and resets
/// itself when an answer takes longer than `probeTimeout`: a connection that stopped
/// answering without closing (a failover behind a proxy, a stalled server) is noticed and
/// replaced instead of staying silently useless.
///
/// Confined to `loop`: create it and call everything on the loop's thread.
public final class RedisConnection: @unchecked Sendable {
    public typealias ReplyHandler = (Result<RESPValue, RedisError>) -> Void

    /// Where the connection is in its life.
    enum State {
        case idle
        case connecting(RedisSocket)
        case ready(RedisSocket)
        case waitingToReconnect(TimerHandle)
        case stopped
    }

    public let loop: EventLoop
    public let url: RedisURL
    public let maxQueued: Int
    /// What this connection is for, in log lines (`commands`, `subscriber`).
    public let role: String
    private let password: String?
    private let logger: Logger
    private var state = State.idle
    private var reader = RESPReader()
    private var backoff = ReconnectBackoff()
    /// Commands waiting for a connection, oldest first.
    private var queued = FIFOQueue<(bytes: [UInt8], handler: ReplyHandler?)>()
    /// One entry per command sent and not yet answered, in the order sent.
    private var awaiting = FIFOQueue<ReplyHandler?>()
    /// Encoded commands of this iteration, written to the ready socket by the flush hook.
    private var output: [UInt8] = []
    private var flushHookInstalled = false
    /// Writes of gathered commands handed to the socket, for tests of the pipelining.
    private(set) var writes = 0
    /// Where the liveness probe stands; see `probeInterval`.
    private var probe = Probe.off

    /// The state of the liveness probe.
    enum Probe {
        case off
        /// The timer that sends the next `PING`.
        case idle(TimerHandle)
        /// A `PING` was sent at `sentAt` (loop ms) and is not answered yet.
        case waiting(sentAt: Int64, timer: TimerHandle)
    }

    /// Bytes of gathered commands beyond which they are written at once rather than at the
    /// end of the iteration, so that a burst does not grow the buffer without bound.
    public static let flushThreshold = 256 * 1024
    /// How often to probe a connection that is up (ms); nil: never.
    public var probeInterval: Int64?
    /// How long a probe may wait for its answer (ms) before the connection is reset.
    public var probeTimeout: Int64 = 5_000
    /// Told when a probe went unanswered, just before the connection is reset.
    public var onProbeTimeout: (() -> Void)?

    /// Runs after every successful connect, before the queued commands are sent.
    public var onReady: (() -> Void)?
    /// Told `true` when the connection is up, `false` when a connection that was up is lost.
    public var onAvailabilityChange: ((Bool) -> Void)?
    /// Receives pub/sub pushes (`message`, `subscribe`, `unsubscribe` arrays).
    public var onPush: ((RESPValue) -> Void)?

    /// `password` overrides the URL's (e.g. from the environment).
    public init(loop: EventLoop, url: RedisURL, role: String = "commands", password: String? = nil, maxQueued: Int = 10_000, logger: Logger) {
        self.role = role
        self.loop = loop
        self.url = url
        self.password = password ?? url.password
        self.maxQueued = maxQueued
        self.logger = logger
    }

    /// True while connected (commands go out at once).
    public var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    /// Starts connecting (once).
    public func start() {
        guard case .idle = state else { return }
        attemptConnect()
    }

    /// Closes the connection for good; waiting commands fail with `.stopped`.
    public func stop() {
        let previous = state
        state = .stopped
        switch previous {
        case .connecting(let socket), .ready(let socket): socket.reset()
        case .waitingToReconnect(let timer): loop.cancel(timer)
        case .idle, .stopped: break
        }
        output.removeAll()
        stopProbing()
        failAll(awaitingWith: .stopped, queuedToo: true)
    }

    /// Sends a command (pipelined), or queues it while disconnected. Returns false, after
    /// calling `handler` with `.queueFull`, when the queue is full.
    @discardableResult
    public func send(_ arguments: [[UInt8]], handler: ReplyHandler? = nil) -> Bool {
        let bytes = RESPCommand.encode(arguments)
        if case .ready = state {
            awaiting.append(handler)
            gather(bytes)
            return true
        }
        guard case .stopped = state else {
            guard queued.count < maxQueued else {
                handler?(.failure(.queueFull))
                return false
            }
            queued.append((bytes, handler))
            return true
        }
        handler?(.failure(.stopped))
        return false
    }

    /// Sends a command whose answer arrives as pushes (`SUBSCRIBE`, `UNSUBSCRIBE`); dropped
    /// while disconnected, since `onReady` restores a subscriber's channels.
    public func sendWithoutReply(_ arguments: [[UInt8]]) {
        guard case .ready = state else { return }
        gather(RESPCommand.encode(arguments))
    }

    // MARK: Pipelining

    /// Adds a command's bytes to this iteration's output.
    private func gather(_ bytes: [UInt8]) {
        installFlushHook()
        output.append(contentsOf: bytes)
        if output.count >= Self.flushThreshold { flush() }
    }

    /// Installed on first use, on the loop's thread (the connection may be made elsewhere).
    private func installFlushHook() {
        guard !flushHookInstalled else { return }
        flushHookInstalled = true
        // Weak: the loop keeps its hooks until it shuts down, and must not keep us.
        loop.addFlushHook { [weak self] in self?.flush() }
    }

    /// Writes the gathered commands with one call (the socket keeps what the kernel refuses).
    private func flush() {
        guard !output.isEmpty else { return }
        guard case .ready(let socket) = state else { return output.removeAll(keepingCapacity: true) }
        writes += 1
        output.withUnsafeBytes { socket.write($0) }
        // A burst's buffer is kept for the next one, unless it was unusually large.
        output.removeAll(keepingCapacity: output.capacity <= 2 * Self.flushThreshold)
    }

    // MARK: Connecting

    private func attemptConnect() {
        let socket = RedisSocket(loop: loop)
        socket.owner = self
        do {
            try socket.connect(to: SocketAddress(host: url.host, port: url.port))
            state = .connecting(socket)
        } catch {
            socket.owner = nil
            retryLater(because: "\(error)")
        }
    }

    private func retryLater(because reason: String) {
        let delay = backoff.nextDelay()
        let level: Logger.Level = backoff.failures <= 1 ? .warning : .info
        logger.log(level: level, "Redis \(url) (\(role)): \(reason); reconnecting in \(delay) ms (attempt \(backoff.failures))")
        let timer = loop.schedule(afterMilliseconds: delay) { [weak self] in
            guard let self, case .waitingToReconnect = self.state else { return }
            self.attemptConnect()
        }
        state = .waitingToReconnect(timer)
    }

    func socketConnected(_ socket: RedisSocket) {
        guard case .connecting(let current) = state, current === socket else { return }
        state = .ready(socket)
        reader = RESPReader()
        output.removeAll(keepingCapacity: true)
        logger.info("Redis \(url) (\(role)): connected\(backoff.failures > 0 ? " (attempt \(backoff.failures + 1))" : "")")
        backoff.reset()
        authenticateAndSelect()
        onAvailabilityChange?(true)
        onReady?()
        flushQueue()
        startProbing()
    }

    /// AUTH and SELECT go first; a refusal closes the connection, which then retries.
    private func authenticateAndSelect() {
        var setup: [[String]] = []
        if let password { setup.append(["AUTH", password]) }
        if url.database != 0 { setup.append(["SELECT", String(url.database)]) }
        for command in setup {
            send(command.map { Array($0.utf8) }) { [weak self] result in
                guard let self, case .success(.error(let message)) = result else { return }
                self.logger.error("Redis \(self.url) (\(self.role)): \(command[0]) refused: \(message)")
                if case .ready(let socket) = self.state { socket.reset() }
            }
        }
    }

    private func flushQueue() {
        while case .ready = state, let (bytes, handler) = queued.removeFirst() {
            awaiting.append(handler)
            gather(bytes)
        }
    }

    // MARK: Probing

    private func startProbing() {
        stopProbing()
        guard let probeInterval else { return }
        probe = .idle(loop.schedule(afterMilliseconds: probeInterval) { [weak self] in self?.sendProbe() })
    }

    private func stopProbing() {
        switch probe {
        case .idle(let timer), .waiting(_, let timer): loop.cancel(timer)
        case .off: break
        }
        probe = .off
    }

    /// Sends a `PING` (answered in order with the other commands, as a push array on a
    /// subscriber) and arms the timeout that resets the connection if it stays unanswered.
    private func sendProbe() {
        guard case .idle = probe, case .ready(let socket) = state else { return }
        let sentAt = loop.now
        let timer = loop.schedule(afterMilliseconds: probeTimeout) { [weak self, weak socket] in
            guard let self, let socket else { return }
            self.probeTimedOut(socket)
        }
        probe = .waiting(sentAt: sentAt, timer: timer)
        send([Array("PING".utf8)]) { [weak self, weak socket] result in
            guard let self, case .success = result, case .ready(let current) = self.state, current === socket else { return }
            self.stopProbing()
            self.startProbing()
        }
    }

    private func probeTimedOut(_ socket: RedisSocket) {
        guard case .waiting(let sentAt, _) = probe, case .ready(let current) = state, current === socket else { return }
        logger.error("Redis \(url) (\(role)): no answer to PING in \(loop.now - sentAt) ms; closing the connection to reconnect")
        probe = .off
        onProbeTimeout?()
        socket.reset()
    }

    // MARK: Input and loss

    func socketReceived(_ socket: RedisSocket, _ bytes: UnsafeRawBufferPointer) {
        guard case .ready(let current) = state, current === socket else { return }
        do throws(RESPReader.ProtocolError) {
            try reader.feed(bytes)
            while let reply = try reader.next() { dispatch(reply) }
        } catch {
            logger.error("Redis \(url) (\(role)): \(error.description); closing the connection")
            socket.reset()
        }
    }

    private func dispatch(_ reply: RESPValue) {
        if let onPush, Self.isPush(reply) { return onPush(reply) }
        guard let handler = awaiting.removeFirst() else {
            logger.warning("Redis \(url) (\(role)): a reply that no command asked for")
            return
        }
        handler?(.success(reply))
    }

    /// Pub/sub confirmations and messages, which answer no pipelined command.
    static func isPush(_ reply: RESPValue) -> Bool {
        guard case .array(let items) = reply, case .bulk(let kind)? = items.first else { return false }
        switch String(decoding: kind, as: UTF8.self) {
        case "message", "pmessage", "subscribe", "unsubscribe", "psubscribe", "punsubscribe": return true
        default: return false
        }
    }

    func socketClosed(_ socket: RedisSocket, _ reason: CloseReason) {
        if case .loopStopped = reason {
            // The loop is shutting down: nothing to reconnect on, nothing worth a warning.
            stop()
            return
        }
        switch state {
        case .connecting(let current) where current === socket:
            retryLater(because: "cannot connect (\(reason))")
        case .ready(let current) where current === socket:
            output.removeAll(keepingCapacity: true)
            stopProbing()
            failAll(awaitingWith: .connectionLost, queuedToo: false)
            onAvailabilityChange?(false)
            retryLater(because: socket.closedByServer ? "the server closed the connection" : "connection lost (\(reason))")
        default:
            return
        }
    }

    private func failAll(awaitingWith error: RedisError, queuedToo: Bool) {
        while let handler = awaiting.removeFirst() { handler?(.failure(error)) }
        guard queuedToo else { return }
        while let (_, handler) = queued.removeFirst() { handler?(.failure(error)) }
    }
}
