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
/// Offsets and epochs are assigned in Redis (`BackplaneScript.publish`), so all nodes give a message
/// the same position. Topics are spread over several Redis servers by `JumpHash` of their
/// name; each server has a command connection and a subscriber connection per node.
///
/// All Redis I/O runs on one loop. `submit` and `interest` may be called from any thread.
///
/// Topics with history also keep a stream in Redis (`BackplaneScript`), which the hub reads
/// to sync a topic, to recover a client from another node, and to repair a gap.
///
/// Outage: while a server is unreachable, publications wait (and count) up to
/// `maxPending`; beyond it `submit` refuses them (the API answers 503). Publications already
/// sent when a connection dropped may be lost (at most once). Subscriptions are restored on
/// reconnect; messages published while a node was cut off reach it only when its topic has
/// a stream (the hub repairs the gap from it).
final class RedisBackplane: Sendable {
    /// Figures the shards' connections update from the loop and anyone may read. Each
    /// changes per connection event or refused publication, never per delivered message.
    private final class Health: Sendable {
        /// Connections (two per server) that are not up; all of them until they connect.
        let down: Atomic<Int>
        /// Publications whose connection dropped before Redis answered, since the last report.
        let lost = Atomic<Int>(0)
        let lostTotal = Atomic<Int>(0)
        let refused = Atomic<Int>(0)
        let reconnects = Atomic<Int>(0)

        init(connections: Int) {
            down = Atomic(connections)
        }
    }

    /// Why a read of a topic's stream gave nothing usable.
    enum ReadFailure: Error, Equatable {
        case redis(String)
        case malformed(String)
    }

    let loop: EventLoop
    let maxPending: Int
    let logger: Logger
    /// Publications handed to Redis and not yet acknowledged.
    private let pending = Atomic<Int>(0)
    // Created in `init` on any thread, used only on `loop` (see `onLoop`).
    nonisolated(unsafe) private let shards: [BackplaneShard]
    private let health: Health
    private let limits: @Sendable (String) -> HistoryLimits
    /// Epochs offered for topics Redis has none for (no system call per publication).
    private let epochs = EpochCandidates()

    /// `deliver` receives every message from Redis, on `loop`, in Redis's order per topic.
    /// `limits` says which topics keep a stream in Redis, and how long (their history rule).
    /// `probeInterval` (ms, nil: never): see `BackplaneShard`.
    init(loop: EventLoop, urls: [RedisURL], maxPending: Int, unsubscribeDelay: Int64 = 1_000, probeInterval: Int64? = 3_000, logger: Logger,
         limits: @escaping @Sendable (String) -> HistoryLimits = { _ in .none },
         deliver: @escaping @Sendable (_ topic: String, _ frame: BackplaneFrame) -> Void) {
        precondition(!urls.isEmpty, "a backplane needs a Redis server")
        self.loop = loop
        self.maxPending = maxPending
        self.logger = logger
        self.limits = limits
        let health = Health(connections: 2 * urls.count)
        self.health = health
        let password = getenv("PUSHWAVE_REDIS_PASSWORD").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        shards = urls.map { url in
            BackplaneShard(loop: loop, url: url, password: password, maxQueued: maxPending + 64, unsubscribeDelay: unsubscribeDelay,
                           probeInterval: probeInterval, logger: logger, onAvailabilityChange: { isCommands, up, reconnect in
                health.down.add(up ? -1 : 1, ordering: .relaxed)
                if reconnect { health.reconnects.add(1, ordering: .relaxed) }
                // One line per outage, not one per publication it cost.
                let lost = up && isCommands ? health.lost.exchange(0, ordering: .relaxed) : 0
                if lost > 0 { logger.warning("Redis \(url): \(lost) publications may have been lost while the connection was down") }
            }) { channel, data in
                guard let topic = BackplaneFrame.topic(ofChannel: channel), let frame = BackplaneFrame(decoding: data) else {
                    logger.warning("Redis \(url): dropped a malformed message on \(String(decoding: channel.prefix(200), as: UTF8.self))")
                    return
                }
                deliver(topic, frame)
            }
        }
    }

    /// True while every connection to every Redis server is up.
    var isAvailable: Bool { health.down.load(ordering: .relaxed) == 0 }

    /// Counters for `/metrics`.
    var figures: BackplaneFigures {
        BackplaneFigures(
            connectionsDown: health.down.load(ordering: .relaxed), reconnects: health.reconnects.load(ordering: .relaxed),
            publicationsRefused: health.refused.load(ordering: .relaxed), publicationsLost: health.lostTotal.load(ordering: .relaxed))
    }

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
            health.refused.add(1, ordering: .relaxed)
            return false
        }
        let arguments = BackplaneScript.publishArguments(
            topic: topic, body: BackplaneFrame.body(payload, kind: kind), newEpoch: epochs.next(),
            shape: BackplaneScript.StreamShape(limits(topic)))
        let index = JumpHash.bucket(of: topic, buckets: shards.count)
        onLoop { [self] shards in
            // Weak: the connection that keeps the handler belongs to this backplane.
            shards[index].commands.send(arguments) { [weak self] result in
                guard let self else { return }
                self.pending.subtract(1, ordering: .relaxed)
                switch result {
                case .success(.error(let message)): self.logger.error("Redis: publishing to \(topic) failed: \(message)")
                case .failure(.connectionLost):
                    self.health.lost.add(1, ordering: .relaxed)
                    self.health.lostTotal.add(1, ordering: .relaxed)
                case .failure(let error):
                    self.health.lostTotal.add(1, ordering: .relaxed)
                    self.logger.warning("Redis: a publication to \(topic) was dropped: \(error)")
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

    /// Reads where `topic` stands in Redis and up to `count` entries of its stream from
    /// offset `first` on; `reply` runs on the loop. With `afterSubscribing`, the read waits
    /// until the topic's channel is subscribed (call `interest` first), so that whatever
    /// the read does not see, the channel brings.
    func read(_ topic: String, first: UInt64, count: Int, afterSubscribing: Bool,
              reply: @escaping @Sendable (Result<StreamRange, ReadFailure>) -> Void) {
        let index = JumpHash.bucket(of: topic, buckets: shards.count)
        let arguments = BackplaneScript.rangeArguments(topic: topic, first: first, count: count, newEpoch: epochs.next())
        let logger = logger
        onLoop { shards in
            let shard = shards[index]
            let send = {
                _ = shard.commands.send(arguments) { result in
                    reply(Self.range(result, first: first, topic: topic, logger: logger))
                }
            }
            if afterSubscribing { shard.whenSubscribed(BackplaneFrame.channel(of: topic), send) } else { send() }
        }
    }

    private static func range(_ result: Result<RESPValue, RedisError>, first: UInt64, topic: String, logger: Logger) -> Result<StreamRange, ReadFailure> {
        switch result {
        case .failure(let error): return .failure(.redis(error.description))
        case .success(.error(let message)):
            logger.error("Redis: reading the stream of \(topic) failed: \(message)")
            return .failure(.redis(message))
        case .success(let value):
            do throws(StreamRange.Malformed) {
                return .success(try StreamRange(parsing: value, first: first))
            } catch {
                logger.error("Redis: an unreadable answer about the stream of \(topic): \(error.description)")
                return .failure(.malformed(error.description))
            }
        }
    }

    /// Runs on the backplane's loop, which alone touches the shards.
    private func onLoop(_ body: @escaping @Sendable ([BackplaneShard]) -> Void) {
        nonisolated(unsafe) let shards = shards
        loop.execute { body(shards) }
    }
}

/// What the Redis backplane counted, for `/metrics`.
public struct BackplaneFigures: Sendable, Equatable {
    /// Redis connections (two per server) not up now.
    public var connectionsDown = 0
    /// Connections re-established after they were lost.
    public var reconnects = 0
    /// Publications refused because too many waited for an unreachable Redis (HTTP 503).
    public var publicationsRefused = 0
    /// Publications whose connection dropped or stopped before Redis confirmed them.
    public var publicationsLost = 0
    /// Messages a node missed on its channel and read back from the topic's stream.
    public var messagesRepaired = 0
    /// Gaps found on topics without a stream (their clients see the offsets jump).
    public var gapsWithoutHistory = 0
    /// Times a topic's subscribers were told to refetch their state (`recovered:false`),
    /// because a gap could not be repaired or the topic's epoch changed.
    public var resets = 0

    public init() {}

    init(connectionsDown: Int, reconnects: Int, publicationsRefused: Int, publicationsLost: Int) {
        self.connectionsDown = connectionsDown
        self.reconnects = reconnects
        self.publicationsRefused = publicationsRefused
        self.publicationsLost = publicationsLost
    }
}
