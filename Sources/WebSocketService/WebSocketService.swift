import Logging
import Reactor
import ServiceLifecycle
import Synchronization
import WebSocket

/// A `WebSocketServer` and the event loops it runs on, as a swift-service-lifecycle `Service`.
///
/// Bind the server's listeners first, then hand the server and its (not yet started)
/// `EventLoopGroup` to the service and run it in a `ServiceGroup` next to your other services:
///
/// ```swift
/// let group = try EventLoopGroup(count: 2)
/// let server = WebSocketServer { request in
///     request.head.path == "/echo" ? .upgrade { EchoSocket(context: $0) } : .notFound
/// }
/// try server.listen(on: group.loops, address: SocketAddress(host: "127.0.0.1", port: 8080))
/// let service = WebSocketService(server: server, group: group)
/// let services = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await services.run()
/// ```
///
/// ``run()`` starts the loops and keeps them running until the group shuts down gracefully
/// or the task is cancelled. Then it drains the server: listeners close, requests still
/// arriving are answered 503, and every WebSocket is sent close 1001 (going away). It waits
/// until the loops have no connection left, at most ``shutdownTimeout``, and stops the loops.
/// A cancellation drains the same way, so clients always learn that the server is going; a
/// cancellation that arrives while the service waits for clients (the group escalating a
/// graceful shutdown that took too long) stops the loops at once.
///
/// The service owns the group's threads: do not start or stop the group yourself. The wait
/// watches each loop's `connectionCount`, so connections of other servers on the same loops
/// also keep it waiting (up to the bound).
public final class WebSocketService: Service, Sendable {
    /// The server this service drains on shutdown.
    public let server: WebSocketServer
    /// The loops the server listens on; ``run()`` starts them and stops them.
    public let group: EventLoopGroup
    /// The longest ``run()`` waits, after the drain, for clients to close before it stops
    /// the loops with whatever connections remain.
    public let shutdownTimeout: Duration
    private let logger: Logger

    /// Wraps a server whose listeners are already bound on `group`'s loops.
    ///
    /// - Parameters:
    ///   - server: The server, after `listen(on: group.loops, ...)`.
    ///   - group: The loops, not yet started.
    ///   - shutdownTimeout: How long to wait for clients to close after the drain.
    ///   - logger: Receives the start and the outcome of the shutdown.
    public init(
        server: WebSocketServer,
        group: EventLoopGroup,
        shutdownTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "pushwave.service")
    ) {
        self.server = server
        self.group = group
        self.shutdownTimeout = shutdownTimeout
        self.logger = logger
    }

    /// Runs the loops until a graceful shutdown or cancellation, then drains the server,
    /// waits (bounded by ``shutdownTimeout``, cut short by a cancellation during the wait)
    /// for its connections to close, and stops the loops. Returns once every loop thread has
    /// finished.
    ///
    /// - Throws: `SystemError` when a loop thread cannot be created; the loops already
    ///   started are stopped first.
    public func run() async throws {
        do {
            try group.start { _ in }
        } catch {
            group.stop()
            group.wait()
            throw error
        }
        logger.info("websocket service running", metadata: ["loops": "\(group.loops.count)"])

        // Returns on graceful shutdown; throws CancellationError on cancellation. Either way
        // the clients get their 1001, so the error carries no information worth keeping.
        try? await gracefulShutdown()

        // Entered through cancellation, the wait still gives clients their bounded chance to
        // close; a cancellation that comes once the drain has begun (the group escalating a
        // graceful shutdown that takes too long) ends it at once. Read before the drain, so
        // that a cancellation racing with it counts as coming after.
        let cancelledBeforeDrain = Task.isCancelled
        server.drain()
        let deadline = MonotonicClock.milliseconds() + Self.milliseconds(shutdownTimeout)
        let abandon = WaitAbandonment()
        let allClosed = await withTaskCancellationHandler {
            var allClosed = true
            for loop in group.loops {
                // Sequential is fine: every loop drains at once, so each wait overlaps the others.
                let closed = await Self.waitForNoConnections(on: loop, deadline: deadline, abandon: abandon)
                allClosed = allClosed && closed
            }
            return allClosed
        } onCancel: {
            if !cancelledBeforeDrain { abandon.requested.store(true, ordering: .relaxed) }
        }
        group.stop()
        // The loops return from `run()` within one iteration of `stop()`, so the join is short.
        group.wait()
        logger.info("websocket service stopped", metadata: ["all_clients_closed": "\(allClosed)"])
    }

    /// Suspends until `loop` has no connection left (true), or `deadline` passes or the wait
    /// is abandoned (false).
    ///
    /// The check runs on the loop itself, on the loop's own timers, so that it reads
    /// `connectionCount` on the thread that owns it, and so that it does not depend on
    /// `Task.sleep`, which returns at once in a cancelled task.
    private static func waitForNoConnections(on loop: EventLoop, deadline: Int64, abandon: WaitAbandonment) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            loop.execute {
                func check() {
                    if loop.connectionCount == 0 {
                        continuation.resume(returning: true)
                    } else if MonotonicClock.milliseconds() >= deadline || abandon.requested.load(ordering: .relaxed) {
                        continuation.resume(returning: false)
                    } else {
                        loop.schedule(afterMilliseconds: EventLoop.tickMilliseconds) { check() }
                    }
                }
                check()
            }
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}

/// Set when the wait for clients is to end now, whatever the deadline; read by the loops'
/// checks (at most one tick late, which is all the promptness a shutdown needs).
private final class WaitAbandonment: Sendable {
    let requested = Atomic<Bool>(false)
}
