import CEpollShim
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket that accepts connections onto its loop.
///
/// For each accepted socket it asks `makeConnection` for a `TCPConnection` (return nil to
/// refuse: the socket is closed at once). When the process runs out of descriptors
/// (`EMFILE`/`ENFILE`) the listener stops watching for a short pause instead of spinning on
/// an accept that keeps failing, logs once per episode, and resumes by itself.
public final class TCPListener: Selectable, @unchecked Sendable {
    /// How the listening socket is set up and how much it accepts at a time.
    public struct Options: Sendable {
        /// The `listen` backlog.
        public var backlog: Int32 = 1024
        /// `SO_REUSEPORT`, so that several loops can each have a listener on the same port.
        public var reusePort = false
        /// How long accepting pauses when descriptors run out.
        public var exhaustionPauseMilliseconds: Int64 = 100
        /// Connections accepted per loop iteration before other work gets a turn; the rest
        /// wait in the kernel's backlog. Each costs a handshake soon after, so this stays
        /// below `EventLoop.Options.handshakesPerIteration`.
        public var acceptsPerIteration = 64
        /// The defaults.
        public init() {}
    }

    /// Makes the connection for an accepted socket, on the listener's loop; nil refuses it.
    public typealias ConnectionFactory = (EventLoop) -> TCPConnection?

    /// The bound address (with the actual port when 0 was asked for).
    public let localAddress: SocketAddress
    private let options: Options
    private let makeConnection: ConnectionFactory
    private enum AcceptState {
        case accepting
        /// Out of descriptors: not watching the socket until the timer resumes it.
        case paused
        case closed
    }
    private var acceptState = AcceptState.accepting
    /// While descriptors are exhausted: since when, and how many pauses it took so far. An
    /// episode ends at the first accept that succeeds again, so it is logged once.
    private var exhaustion: (since: Int64, pauses: Int)?
    private var listenFD: Int32

    /// Binds and listens on `address`, accepting onto `loop`.
    public init(loop: EventLoop, address: SocketAddress, options: Options = Options(), makeConnection: @escaping ConnectionFactory) throws {
        let socket = pw_tcp_socket(address.family)
        guard socket >= 0 else { throw SystemError("socket") }
        _ = pw_set_reuseaddr(socket, 1)
        if options.reusePort { _ = pw_set_reuseport(socket, 1) }
        guard address.withSockAddr({ bind(socket, $0, $1) }) == 0 else {
            let error = SystemError("bind \(address)")
            closeDescriptor(socket)
            throw error
        }
        guard listen(socket, options.backlog) == 0 else {
            let error = SystemError("listen")
            closeDescriptor(socket)
            throw error
        }
        do {
            localAddress = try SocketAddress(localAddressOf: socket)
        } catch {
            closeDescriptor(socket)
            throw error
        }
        listenFD = socket
        self.options = options
        self.makeConnection = makeConnection
        super.init(loop: loop)
        do {
            try loop.register(self, fd: socket, events: [.readable])
        } catch {
            closeDescriptor(socket)
            throw error
        }
    }

    /// Stops listening and closes the socket; open connections are not affected.
    public func close() {
        switch acceptState {
        case .closed: return
        case .accepting: loop.forget(self)
        case .paused: break  // already off epoll
        }
        acceptState = .closed
        closeDescriptor(listenFD)
    }

    /// The loop is shutting down: stops listening.
    public override func loopWillClose() {
        close()
    }

    /// Accepts the pending connections (up to `acceptsPerIteration` per iteration).
    public override func handleEvents(_ events: IOEvents) {
        // Still on the ready list from a full batch: that accepts the rest next iteration.
        // Accepting here as well would double this iteration's batch.
        guard !isOnReadyList else { return }
        acceptAvailable()
    }

    private func acceptAvailable() {
        guard case .accepting = acceptState else { return }
        for _ in 0..<options.acceptsPerIteration {
            let socket = pw_accept(listenFD)
            if socket >= 0 {
                endExhaustion()
                adopt(socket)
                continue
            }
            let code = pw_errno()
            switch code {
            case EAGAIN, EWOULDBLOCK:
                endExhaustion()
                return
            case EINTR, ECONNABORTED, EPROTO, EPERM:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                pause(code)
                return
            default:
                loop.logger.error("accept failed", metadata: ["error": "\(SystemError("accept", code: code))"])
                return
            }
        }
        loop.markReady(self)
    }

    private func adopt(_ socket: Int32) {
        _ = pw_set_nodelay(socket, 1)
        guard let connection = makeConnection(loop) else {
            closeDescriptor(socket)
            return
        }
        do {
            try connection.adopt(fd: socket)
        } catch {
            closeDescriptor(socket)
            loop.logger.error("could not register an accepted connection", metadata: ["error": "\(error)"])
        }
    }

    /// Out of descriptors: stop watching the socket so a full backlog cannot wake the loop
    /// over and over, and try again after a pause.
    private func pause(_ code: Int32) {
        guard case .accepting = acceptState else { return }
        if let episode = exhaustion {
            exhaustion = (episode.since, episode.pauses + 1)
        } else {
            exhaustion = (loop.now, 1)
            loop.logger.warning(
                "out of file descriptors, pausing accept",
                metadata: ["error": "\(SystemError("accept", code: code))", "open_connections": "\(loop.connectionCount)"])
        }
        acceptState = .paused
        loop.deregister(self)
        // The timer holds this listener while it is off the loop's registrations.
        loop.scheduleTimer(for: self, afterMilliseconds: options.exhaustionPauseMilliseconds)
    }

    /// The pause is over: watch the socket again and accept what waits.
    public override func timerFired() {
        guard case .paused = acceptState else { return }
        acceptState = .accepting
        do {
            try loop.register(self, fd: listenFD, events: [.readable])
        } catch {
            loop.logger.error("could not resume accepting", metadata: ["error": "\(error)"])
            return
        }
        acceptAvailable()
    }

    private func endExhaustion() {
        guard let episode = exhaustion else { return }
        exhaustion = nil
        loop.logger.notice(
            "accepting again",
            metadata: ["paused_ms": "\(loop.now - episode.since)", "pauses": "\(episode.pauses)"])
    }
}

extension TCPListener {
    /// Opens one listener per loop on the same address, with `SO_REUSEPORT` when there are
    /// several, so that the kernel spreads new connections over the loops. When `address`
    /// asks for port 0, the first listener's port is used for the others. Call it before the
    /// loops run, as for `init`.
    ///
    /// `makeFactory` is called once per loop, in order, for that loop's connection factory
    /// (the place to set up per-loop state). If a listener cannot be opened, those already
    /// opened are closed and the error is thrown.
    ///
    /// Returns the bound address and the listeners, in the order of `loops`.
    public static func open(
        on loops: [EventLoop], address: SocketAddress, options: Options = Options(),
        makeFactory: (EventLoop) throws -> ConnectionFactory
    ) throws -> (address: SocketAddress, listeners: [TCPListener]) {
        precondition(!loops.isEmpty, "open needs at least one loop")
        var options = options
        options.reusePort = options.reusePort || loops.count > 1
        var bound = address
        var listeners: [TCPListener] = []
        do {
            for loop in loops {
                let listener = try TCPListener(loop: loop, address: bound, options: options, makeConnection: makeFactory(loop))
                bound = listener.localAddress
                listeners.append(listener)
            }
        } catch {
            for listener in listeners { listener.close() }
            throw error
        }
        return (bound, listeners)
    }
}
