import Glibc
import Logging
import Reactor
import Redis
import Synchronization
import WebSocket

/// Joins the push servers of several processes (or machines) into one, through Redis
/// pub/sub: every publication goes to Redis once, and comes back to every node subscribed to
/// its topic, which fans it out locally. Local and remote publications take the same path,
/// so each topic's order is Redis's order, the same on every node.
///
/// Offsets and epochs are assigned in Redis (`PublishScript`), so all nodes give a message
/// the same position. Topics are spread over several Redis servers by `JumpHash` of their
/// name; each server has a command connection and a subscriber connection per node.
///
/// All Redis I/O runs on one loop. `submit` and `interest` may be called from any thread.
///
/// Outage: while a server is unreachable, publications wait (and count) up to
/// `maxPending`; beyond it `submit` refuses them (the API answers 503). Publications already
/// sent when a connection dropped may be lost (at most once). Subscriptions are restored on
/// reconnect; messages published while a node was cut off do not reach it.
final class RedisBackplane: Sendable {
    /// Figures the shards' connections update from the loop and anyone may read.
    private final class Health: Sendable {
        /// Connections (two per server) that are not up; all of them until they connect.
        let down: Atomic<Int>
        /// Publications whose connection dropped before Redis answered, since the last report.
        let lost = Atomic<Int>(0)

        init(connections: Int) {
            down = Atomic(connections)
        }
    }

    let loop: EventLoop
    let maxPending: Int
    /// Publications handed to Redis and not yet acknowledged.
    private let pending = Atomic<Int>(0)
    // Created in `init` on any thread, used only on `loop` (see `onLoop`).
    nonisolated(unsafe) private let shards: [BackplaneShard]
    private let logger: Logger
    private let health: Health

    /// `deliver` receives every message from Redis, on `loop`, in Redis's order per topic.
    init(loop: EventLoop, urls: [RedisURL], maxPending: Int, unsubscribeDelay: Int64 = 1_000, logger: Logger,
         deliver: @escaping @Sendable (_ topic: String, _ frame: BackplaneFrame) -> Void) {
        precondition(!urls.isEmpty, "a backplane needs a Redis server")
        self.loop = loop
        self.maxPending = maxPending
        self.logger = logger
        let health = Health(connections: 2 * urls.count)
        self.health = health
        let password = getenv("PUSHWAVE_REDIS_PASSWORD").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        shards = urls.map { url in
            BackplaneShard(loop: loop, url: url, password: password, maxQueued: maxPending + 64, unsubscribeDelay: unsubscribeDelay,
                           logger: logger, onAvailabilityChange: { isCommands, up in
                health.down.add(up ? -1 : 1, ordering: .relaxed)
                // One line per outage, not one per publication it cost.
                let lost = up && isCommands ? health.lost.exchange(0, ordering: .relaxed) : 0
                if lost > 0 { logger.warning("Redis \(url): \(lost) publications may have been lost while the connection was down") }
            }) { channel, data in
                guard let topic = BackplaneFrame.topic(ofChannel: channel), let frame = BackplaneFrame(decoding: data) else {
                    logger.warning("Redis \(url): dropped a malformed message on \(String(decoding: channel, as: UTF8.self))")
                    return
                }
                deliver(topic, frame)
            }
        }
    }

    /// True while every connection to every Redis server is up.
    var isAvailable: Bool { health.down.load(ordering: .relaxed) == 0 }

    func start() {
        onLoop { $0.forEach { $0.start() } }
    }

    /// Closes the connections; waiting publications fail. On the loop's thread this is done
    /// before it returns (the caller may stop the loop next); from elsewhere it is handed over.
    func stop() {
        guard loop.inEventLoop else { return onLoop { $0.forEach { $0.stop() } } }
        shards.forEach { $0.stop() }
    }

    /// Hands a publication to Redis; false when too many are waiting already.
    func submit(_ topic: String, payload: [UInt8], kind: MessageKind) -> Bool {
        guard pending.add(1, ordering: .relaxed).newValue <= maxPending else {
            pending.subtract(1, ordering: .relaxed)
            return false
        }
        let arguments = PublishScript.arguments(topic: topic, body: BackplaneFrame.body(payload, kind: kind), newEpoch: HistoryStore.randomEpoch())
        let index = JumpHash.bucket(of: topic, buckets: shards.count)
        onLoop { [self] shards in
            // Weak: the connection that keeps the handler belongs to this backplane.
            shards[index].commands.send(arguments) { [weak self] result in
                guard let self else { return }
                self.pending.subtract(1, ordering: .relaxed)
                switch result {
                case .success(.error(let message)): self.logger.error("Redis: publishing to \(topic) failed: \(message)")
                case .failure(.connectionLost): self.health.lost.add(1, ordering: .relaxed)
                case .failure(let error): self.logger.warning("Redis: a publication to \(topic) was dropped: \(error)")
                case .success: break
                }
            }
        }
        return true
    }

    /// The first local subscriber of `topic` arrived (`true`) or the last one left.
    func interest(_ topic: String, _ wanted: Bool) {
        let index = JumpHash.bucket(of: topic, buckets: shards.count)
        let channel = BackplaneFrame.channel(of: topic)
        onLoop { shards in
            if wanted { shards[index].want(channel) } else { shards[index].release(channel) }
        }
    }

    /// Runs on the backplane's loop, which alone touches the shards.
    private func onLoop(_ body: @escaping @Sendable ([BackplaneShard]) -> Void) {
        nonisolated(unsafe) let shards = shards
        loop.execute { body(shards) }
    }
}
