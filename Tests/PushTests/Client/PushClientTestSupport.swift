import Dispatch
import Glibc
import Push
import Reactor
import Synchronization
import TestSupport
import WebSocket

/// What a ``RecordingClient`` saw, readable from the test's thread.
final class ClientLog: Sendable {
    struct Delivery: Equatable {
        let offset: UInt64
        let data: JSON
    }
    let messages = Mutex<[String: [Delivery]]>([:])
    let subscribed = Mutex<[String: Int]>([:])
    let resets = Mutex<[String: [StreamPosition]]>([:])
    let failures = Mutex<[Int]>([])
    let opens = Atomic<Int>(0)

    func count(_ topic: String) -> Int { messages.withLock { $0[topic]?.count ?? 0 } }
    func deliveries(_ topic: String) -> [Delivery] { messages.withLock { $0[topic] ?? [] } }
    func subscribedTopics() -> Int { subscribed.withLock { $0.count } }
}

/// Records every callback into its log.
final class RecordingClient: PushClient, @unchecked Sendable {
    let log: ClientLog

    init(url: WebSocketURL, context: WebSocketContext, configuration: PushClientConfiguration, log: ClientLog) {
        self.log = log
        super.init(url: url, context: context, configuration: configuration)
    }

    override func didReceive(topic: String, offset: UInt64, data: JSON) {
        log.messages.withLock { $0[topic, default: []].append(.init(offset: offset, data: data)) }
    }

    override func didSubscribe(topic: String, position: StreamPosition) {
        log.subscribed.withLock { $0[topic, default: 0] += 1 }
    }

    override func didReset(topic: String, position: StreamPosition) {
        log.resets.withLock { $0[topic, default: []].append(position) }
    }

    override func didFail(code: Int, reason: String, topic: String?) {
        log.failures.withLock { $0.append(code) }
    }

    override func didChangeState(_ state: State) {
        if state == .open { log.opens.add(1, ordering: .relaxed) }
    }
}

/// A push server on two loops of its own, on a free loopback port.
final class PushServerFixture: Sendable {
    let server: PushServer
    let group: EventLoopGroup
    let port: Int

    init(history: [String]) throws {
        var configuration = PushConfiguration()
        configuration.history = try history.map { try HistoryRule(parsing: $0) }
        server = PushServer(configuration: configuration)
        group = try EventLoopGroup(count: 2)
        port = try server.listen(on: group.loops, address: SocketAddress(host: "127.0.0.1", port: 0)).port
        try group.start { _ in }
    }

    /// Publishes a JSON number, which arrives as `data` equal to it.
    @discardableResult
    func publish(_ topic: String, _ number: Int) -> PublishOutcome {
        server.publish(topic, Array(String(number).utf8), kind: .text)
    }

    /// Waits until no connection is subscribed to `topics` any more (the clients closed and
    /// the server let their connections go), then stops the loops: loops stopped with
    /// connections still on them keep those alive.
    func stop(after topics: [String] = []) {
        _ = waitUntil(seconds: 10) { topics.allSatisfy { server.hub.status(of: $0).subscribers == 0 } }
        _ = waitUntil(seconds: 10) { openConnections() == 0 }
        usleep(100_000)  // a connection still in its HTTP upgrade is not counted as open yet
        group.stop()
        group.wait()
    }

    /// WebSocket connections opened and not yet closed, over every loop (each loop's counters
    /// are read on its own thread).
    func openConnections() -> Int {
        let total = Mutex(0)
        let done = DispatchSemaphore(value: 0)
        for context in server.websocket.contexts {
            context.loop.execute {
                let figures = context.statistics
                total.withLock { $0 += figures.connectionsOpened - figures.connectionsClosed }
                done.signal()
            }
        }
        for _ in server.websocket.contexts { done.wait() }
        return total.withLock { $0 }
    }
}

extension PushClientConfiguration {
    /// Quick retries, so that tests do not wait for the default half second.
    static var fastRetries: PushClientConfiguration {
        var configuration = PushClientConfiguration()
        configuration.backoffBaseMilliseconds = 20
        configuration.backoffCapMilliseconds = 200
        return configuration
    }
}

/// Starts a recording client on `thread` subscribed to `topics`.
func startClient(on thread: LoopThread, port: Int, topics: [String], log: ClientLog,
                 configuration: PushClientConfiguration = .fastRetries) throws -> RecordingClient {
    try thread.sync {
        let context = WebSocketContext(loop: thread.loop, role: .client)
        let client = RecordingClient(url: try WebSocketURL("ws://127.0.0.1:\(port)/ws"), context: context, configuration: configuration, log: log)
        client.start()
        for topic in topics { client.subscribe(topic) }
        return client
    }
}
