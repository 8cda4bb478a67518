import Logging
import Reactor
import WebSocket

/// A client of a Pushwave server's `/ws` protocol (PROTOCOL.md in Push/Protocol) on an event
/// loop: many topics on one connection, delivered in offset order and exactly once, across
/// reconnects.
///
/// Subclass it and override the callbacks — ``didReceive(topic:offset:data:)``, and as
/// needed ``didReset(topic:position:)``, ``didChangeState(_:)``, ``didSubscribe(topic:position:)``,
/// ``didPublish(topic:offset:id:)``, ``didFail(code:reason:topic:)`` — then call
/// ``start()``. Everything, the public methods included, runs on the context's loop thread.
///
/// When the connection drops, the client reconnects by itself with exponential backoff and
/// jitter (``PushClientConfiguration``), and subscribes again to every topic with the
/// position of the last message it delivered (`since`): the server sends what was missed
/// first, then live messages, and the client drops any repeat. When the server can no
/// longer recover a topic (its history does not reach back, or the epoch changed), the
/// client calls ``didReset(topic:position:)``: the application must refetch that topic's
/// state.
///
/// The server's input is not trusted. A reply that is not valid JSON or lacks a field is
/// logged, counted in ``malformedReplies`` and ignored; a reply with an unknown `op` is
/// ignored (newer servers may add some). Should an ignored frame have been a message, the
/// next message of that topic shows the gap in its offset: the client then reconnects and
/// recovers from the last message it delivered, so nothing is skipped silently.
///
/// ```swift
/// final class Feed: PushClient, @unchecked Sendable {
///     override func didReceive(topic: String, offset: UInt64, data: JSON) { print(topic, data) }
///     override func didReset(topic: String, position: StreamPosition) { reload(topic) }
/// }
/// let feed = try Feed(url: WebSocketURL("ws://127.0.0.1:8080/ws"),
///                     context: WebSocketContext(loop: loop, role: .client), token: "…")
/// loop.execute { feed.start(); feed.subscribe("news") }
/// ```
open class PushClient: @unchecked Sendable {
    /// Where the connection is, as ``didChangeState(_:)`` reports it.
    public enum State: Sendable, Equatable {
        /// Created; ``start()`` not yet called.
        case idle
        /// TCP connect and WebSocket upgrade in progress.
        case connecting
        /// Connected; commands go out.
        case open
        /// The connection dropped (or an attempt failed); the next attempt is due after the delay.
        case waitingToReconnect(delayMilliseconds: Int64)
        /// ``close()`` was called; nothing more happens.
        case closed
    }

    /// The connection and what it owns, one case per state; see ``State``.
    enum Connection {
        case idle
        case connecting(PushClientSocket)
        case open(PushClientSocket)
        /// The timer of the next attempt, and its delay (for ``State``).
        case waiting(TimerHandle, delayMilliseconds: Int64)
        case closed
    }

    /// What the client keeps per topic: the position it resumes from.
    struct Subscription {
        /// The last message delivered, or the position of the last `subscribed`; nil until the
        /// first `subscribed`, so the first subscribe has no `since`.
        var position: StreamPosition?
        /// The `id` of this connection's subscribe command; nil when not sent on it yet.
        var commandID: Int?
        /// True once this connection's `subscribed` arrived: messages are delivered from then on.
        var isActive = false
    }

    /// The address, as given.
    public let url: WebSocketURL
    /// The loop's shared client settings; many clients on one loop can share one.
    public let context: WebSocketContext
    public let configuration: PushClientConfiguration
    /// Replies ignored because they were malformed (not JSON, a missing or mistyped field).
    public internal(set) var malformedReplies = 0
    /// Connections given up because a topic's offsets showed a gap (then recovered with `since`).
    public internal(set) var gapsDetected = 0

    var connection = Connection.idle
    var subscriptions: [String: Subscription] = [:]
    /// Commands sent on the current connection and not yet answered, by `id`: their replies
    /// and errors name the topic through it.
    var inFlight: [Int: String] = [:]
    var nextCommandID = 1
    var backoff: Backoff
    /// Sent as `Authorization: Bearer` on every connect; ``refresh(token:)`` replaces it.
    var token: String?

    /// Creates a client; ``start()`` connects.
    ///
    /// - Parameters:
    ///   - url: The server's `/ws` address, `ws://` or `wss://`.
    ///   - context: A client context (`role: .client`) on the loop the client runs on.
    ///   - configuration: Backoff, TLS and reply limits.
    ///   - token: A connection token, when the server requires one.
    public init(url: WebSocketURL, context: WebSocketContext, configuration: PushClientConfiguration = PushClientConfiguration(), token: String? = nil) {
        precondition(context.role == .client, "a PushClient needs a client context")
        self.url = url
        self.context = context
        self.configuration = configuration
        self.token = token
        backoff = Backoff(baseMilliseconds: configuration.backoffBaseMilliseconds, capMilliseconds: configuration.backoffCapMilliseconds)
    }

    var loop: EventLoop { context.loop }
    var logger: Logger { context.logger }

    // MARK: Callbacks for subclasses

    /// A text message of `topic`, in offset order, once. `data` is the published JSON value (a
    /// message that was not JSON arrives as a string).
    open func didReceive(topic: String, offset: UInt64, data: JSON) {}

    /// A binary message of `topic`, in offset order, once.
    open func didReceiveBinary(topic: String, offset: UInt64, payload: [UInt8]) {}

    /// Messages of `topic` were lost: the server could not recover them after a reconnect (or,
    /// with Redis, lost them). Refetch the topic's state; messages after `position` follow.
    open func didReset(topic: String, position: StreamPosition) {}

    /// The server confirmed a subscription (again after each reconnect); messages after
    /// `position` follow, or the recovered ones first.
    open func didSubscribe(topic: String, position: StreamPosition) {}

    /// The server took a ``publish(_:_:)``; `offset` is nil with a Redis backplane.
    open func didPublish(topic: String, offset: UInt64?, id: Int) {}

    /// The server refused a command (`code` and `reason` from PROTOCOL.md's table). A refused
    /// subscribe is forgotten: `topic` is no longer subscribed.
    open func didFail(code: Int, reason: String, topic: String?) {}

    /// The connection changed state.
    open func didChangeState(_ state: State) {}

    // MARK: Commands

    /// The connection's state.
    public var state: State {
        switch connection {
        case .idle: .idle
        case .connecting: .connecting
        case .open: .open
        case .waiting(_, let delay): .waitingToReconnect(delayMilliseconds: delay)
        case .closed: .closed
        }
    }

    /// Connects; from then on the client stays connected until ``close()``.
    public func start() {
        guard case .idle = connection else { return }
        connect()
    }

    /// Subscribes to `topic` (now if connected, else when connected), and keeps it subscribed
    /// across reconnects. Subscribing again to a subscribed topic does nothing.
    ///
    /// - Parameters:
    ///   - topic: The topic's name, as the server and the publish API name it.
    ///   - position: Where to resume: the last message the application handled, e.g.
    ///     saved before the process last stopped. The server sends every later message first,
    ///     or, when it cannot, ``didReset(topic:position:)`` follows. Nil: from now on.
    public func subscribe(_ topic: String, from position: StreamPosition? = nil) {
        guard subscriptions[topic] == nil else { return }
        subscriptions[topic] = Subscription(position: position)
        if case .open(let socket) = connection { sendSubscribe(topic, on: socket) }
    }

    /// Unsubscribes from `topic`: nothing more of it is delivered, and its position is forgotten.
    public func unsubscribe(_ topic: String) {
        guard let subscription = subscriptions.removeValue(forKey: topic) else { return }
        guard case .open(let socket) = connection, subscription.commandID != nil else { return }
        send(["op": .string("unsubscribe"), "topic": .string(topic)], topic: topic, on: socket)
    }

    /// Publishes `data` (any JSON value) to `topic`, where the connection's token allows it.
    /// Returns the command's `id`, which ``didPublish(topic:offset:id:)`` or
    /// ``didFail(code:reason:topic:)`` names later; nil when not connected (nothing is queued).
    @discardableResult
    public func publish(_ topic: String, _ data: JSON) -> Int? {
        guard case .open(let socket) = connection else { return nil }
        return send(["op": .string("publish"), "topic": .string(topic), "data": data], topic: topic, on: socket)
    }

    /// Replaces the connection token: sent now with `refresh` when connected (before the old one
    /// expires, which would close the connection with 4401), and used by every later reconnect.
    public func refresh(token: String) {
        self.token = token
        if case .open(let socket) = connection { send(["op": .string("refresh"), "token": .string(token)], topic: nil, on: socket) }
    }

    /// Closes the connection for good: no more reconnects or callbacks but this state change.
    public func close() {
        switch connection {
        case .connecting(let socket), .open(let socket):
            socket.owner = nil
            socket.close()
        case .waiting(let timer, _):
            loop.cancel(timer)
        case .idle, .closed:
            break
        }
        connection = .closed
        didChangeState(.closed)
    }
}
