import Logging
import Reactor
import Redis

/// One Redis server of the backplane: a connection for the scripts and one that subscribes
/// to the channels of the topics it owns that this node has subscribers for.
///
/// Confined to the backplane's loop.
final class BackplaneShard {
    /// A channel this node wants, or is about to let go.
    enum ChannelState {
        /// `SUBSCRIBE` sent (or to be sent on reconnect), not yet confirmed; `waiting` runs
        /// once it is: a read of the topic's stream after the confirmation cannot miss a
        /// message that the channel will not bring.
        case subscribing(waiting: [() -> Void])
        case subscribed
        /// The last local subscriber left; the channel is unsubscribed when the timer fires,
        /// unless someone subscribes again first (clients that reconnect at once are common).
        case leaving(TimerHandle)
    }

    /// Channels per `SUBSCRIBE` when a reconnect restores them: few commands for Redis to
    /// parse (a reply is still one push per channel), none of them unboundedly large. The
    /// batches of one reconnect go out pipelined, in as few writes as the buffer allows.
    static let resubscribeBatch = 1_000

    let commands: RedisConnection
    let subscriber: RedisConnection
    private let loop: EventLoop
    private let unsubscribeDelay: Int64
    private var channels: [String: ChannelState] = [:]
    /// Whether each connection was ever up, so that only later connects count as reconnects.
    private var commandsWereUp = false
    private var subscriberWasUp = false

    /// `probeInterval` (ms, nil: never): how often the subscriber connection is sent a `PING`,
    /// and how long it may take to answer before the connection is replaced. A subscriber
    /// otherwise only listens, and a connection that went silent (a failover behind it) would
    /// stop delivering without anyone noticing; the command connection notices by itself,
    /// as its publications go unanswered.
    init(loop: EventLoop, url: RedisURL, password: String?, maxQueued: Int, unsubscribeDelay: Int64, probeInterval: Int64?, logger: Logger,
         onAvailabilityChange: @escaping (_ commands: Bool, _ up: Bool, _ reconnect: Bool) -> Void,
         onMessage: @escaping (_ channel: [UInt8], _ data: [UInt8]) -> Void) {
        self.loop = loop
        self.unsubscribeDelay = unsubscribeDelay
        commands = RedisConnection(loop: loop, url: url, password: password, maxQueued: maxQueued, logger: logger)
        subscriber = RedisConnection(loop: loop, url: url, role: "subscriber", password: password, maxQueued: 16, logger: logger)
        subscriber.probeInterval = probeInterval
        if let probeInterval { subscriber.probeTimeout = probeInterval }
        subscriber.onPush = { [unowned self] push in
            guard case .array(let items) = push, items.count == 3, case .bulk(let kind) = items[0], case .bulk(let channel) = items[1] else { return }
            switch kind {
            case Array("message".utf8):
                guard case .bulk(let data) = items[2] else { return }
                onMessage(channel, data)
            case Array("subscribe".utf8):
                self.confirmed(String(decoding: channel, as: UTF8.self))
            default:
                return
            }
        }
        subscriber.onReady = { [unowned self] in self.resubscribeAll() }
        commands.onReady = { [unowned commands] in
            for script in BackplaneScript.all {
                commands.send(script.loadArguments) { result in
                    guard case .success(let reply) = result, reply.text != script.sha1 else { return }
                    logger.error("Redis \(url): loading a script failed (\(reply)); publications and history reads will fail")
                }
            }
        }
        commands.onAvailabilityChange = { [unowned self] up in
            onAvailabilityChange(true, up, up && self.commandsWereUp)
            if up { self.commandsWereUp = true }
        }
        subscriber.onAvailabilityChange = { [unowned self] up in
            onAvailabilityChange(false, up, up && self.subscriberWasUp)
            if up { self.subscriberWasUp = true }
        }
    }

    func start() {
        commands.start()
        subscriber.start()
    }

    func stop() {
        commands.stop()
        subscriber.stop()
    }

    /// The first local subscriber of `channel` arrived.
    func want(_ channel: String) {
        switch channels[channel] {
        case .subscribed?, .subscribing?: return
        case .leaving(let timer)?:
            loop.cancel(timer)
            channels[channel] = .subscribed
        case nil:
            channels[channel] = .subscribing(waiting: [])
            subscriber.sendWithoutReply([Array("SUBSCRIBE".utf8), Array(channel.utf8)])
        }
    }

    /// Runs `body` once `channel` is subscribed (at once if it is, never if it is not wanted).
    func whenSubscribed(_ channel: String, _ body: @escaping () -> Void) {
        switch channels[channel] {
        case .subscribing(var waiting)?:
            waiting.append(body)
            channels[channel] = .subscribing(waiting: waiting)
        case .subscribed?, .leaving?: body()
        case nil: return
        }
    }

    /// The last local subscriber of `channel` left.
    func release(_ channel: String) {
        switch channels[channel] {
        case .subscribed?, .subscribing?:
            let timer = loop.schedule(afterMilliseconds: unsubscribeDelay) { [weak self] in
                guard let self, case .leaving? = self.channels[channel] else { return }
                self.channels[channel] = nil
                self.subscriber.sendWithoutReply([Array("UNSUBSCRIBE".utf8), Array(channel.utf8)])
            }
            channels[channel] = .leaving(timer)
        case .leaving?, nil:
            return
        }
    }

    private func confirmed(_ channel: String) {
        guard case .subscribing(let waiting)? = channels[channel] else { return }
        channels[channel] = .subscribed
        for body in waiting { body() }
    }

    /// After a (re)connect the server knows none of our channels: subscribe all, in batches
    /// so that no single command grows without bound.
    private func resubscribeAll() {
        var batch: [[UInt8]] = []
        for channel in channels.keys {
            batch.append(Array(channel.utf8))
            if batch.count == Self.resubscribeBatch {
                subscriber.sendWithoutReply([Array("SUBSCRIBE".utf8)] + batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { subscriber.sendWithoutReply([Array("SUBSCRIBE".utf8)] + batch) }
    }
}
