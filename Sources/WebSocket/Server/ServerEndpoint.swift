import HTTP
import Logging
import Reactor

/// A server's presence on one loop: its context, listener, and handshake bookkeeping.
/// Confined to that loop.
final class ServerEndpoint: @unchecked Sendable {
    let context: WebSocketContext
    let router: @Sendable (ServerRequest) -> ServerResponse
    let maxConnections: Int
    /// Weak: the loop holds the listener while it listens, and the listener holds this endpoint.
    weak var listener: TCPListener?
    private(set) var isDraining = false
    /// Rejected handshakes by HTTP status code.
    private(set) var rejections: [Int: Int] = [:]
    /// When each rejection status was last logged, and how many went unlogged since.
    private var rejectionLog: [Int: (time: Int64, suppressed: Int)] = [:]

    init(context: WebSocketContext, router: @escaping @Sendable (ServerRequest) -> ServerResponse, maxConnections: Int) {
        self.context = context
        self.router = router
        self.maxConnections = maxConnections
    }

    var isOverCapacity: Bool { context.loop.connectionCount > maxConnections }

    /// Counts a rejected handshake, and logs it at most once per status every 10 seconds.
    func recordRejection(_ rejected: HTTPStatus, _ message: String) {
        let status = rejected.code
        rejections[status, default: 0] += 1
        let now = context.loop.now
        if let last = rejectionLog[status], now - last.time < 10_000 {
            rejectionLog[status] = (last.time, last.suppressed + 1)
            return
        }
        let suppressed = rejectionLog[status]?.suppressed ?? 0
        rejectionLog[status] = (now, 0)
        context.logger.notice(
            "handshake rejected",
            metadata: ["status": "\(status)", "reason": "\(message)", "similar_since_last_log": "\(suppressed)"])
    }

    /// Stops accepting, refuses further requests with 503, and closes with 1001 every open
    /// WebSocket this server accepted and every HTTP connection of it that waits between
    /// requests. Other connections on the loop (another server's, the user's own clients)
    /// are left alone: they belong to other contexts.
    func drain() {
        isDraining = true
        listener?.close()
        listener = nil
        let context = context
        context.loop.forEachRegistration { selectable in
            if let socket = selectable as? WebSocket, socket.context === context {
                socket.close(code: .goingAway, reason: "server shutting down")
            } else if let connection = selectable as? HTTPServerConnection, connection.endpoint === self {
                connection.closeIfIdle()
            }
        }
    }
}
