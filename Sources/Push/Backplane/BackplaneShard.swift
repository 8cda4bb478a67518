import Logging
import Reactor
import Redis

/// One Redis server of the backplane: a connection for the publish script and one that
/// subscribes to the channels of the topics it owns that this node has subscribers for.
///
/// Confined to the backplane's loop.
final class BackplaneShard {
    /// A channel this node wants, or is about to let go.
    enum ChannelState {
        case subscribed
        /// The last local subscriber left; the channel is unsubscribed when the timer fires,
        /// unless someone subscribes again first (clients that reconnect at once are common).
        case leaving(TimerHandle)
    }

    /// Channels per `SUBSCRIBE` when a reconnect restores them.
    static let resubscribeBatch = 500

    let commands: RedisConnection
    let subscriber: RedisConnection
    private let loop: EventLoop
    private let unsubscribeDelay: Int64
    private var channels: [String: ChannelState] = [:]

    init(loop: EventLoop, url: RedisURL, password: String?, maxQueued: Int, unsubscribeDelay: Int64, logger: Logger,
         onAvailabilityChange: @escaping (_ commands: Bool, _ up: Bool) -> Void,
         onMessage: @escaping (_ channel: [UInt8], _ data: [UInt8]) -> Void) {
        self.loop = loop
        self.unsubscribeDelay = unsubscribeDelay
        commands = RedisConnection(loop: loop, url: url, password: password, maxQueued: maxQueued, logger: logger)
        subscriber = RedisConnection(loop: loop, url: url, role: "subscriber", password: password, maxQueued: 16, logger: logger)
        subscriber.onPush = { push in
            guard case .array(let items) = push, items.count == 3, items[0] == .bulk(Array("message".utf8)),
                case .bulk(let channel) = items[1], case .bulk(let data) = items[2]
            else { return }
            onMessage(channel, data)
        }
        subscriber.onReady = { [unowned self] in self.resubscribeAll() }
        commands.onReady = { [unowned commands] in
            commands.send(PublishScript.loadArguments) { result in
                guard case .success(let reply) = result, reply.text != PublishScript.sha1 else { return }
                logger.error("Redis \(url): loading the publish script failed (\(reply)); publications will fail")
            }
        }
        commands.onAvailabilityChange = { onAvailabilityChange(true, $0) }
        subscriber.onAvailabilityChange = { onAvailabilityChange(false, $0) }
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
        case .subscribed?: return
        case .leaving(let timer)?: loop.cancel(timer)
        case nil: subscriber.sendWithoutReply([Array("SUBSCRIBE".utf8), Array(channel.utf8)])
        }
        channels[channel] = .subscribed
    }

    /// The last local subscriber of `channel` left.
    func release(_ channel: String) {
        guard case .subscribed? = channels[channel] else { return }
        let timer = loop.schedule(afterMilliseconds: unsubscribeDelay) { [weak self] in
            guard let self, case .leaving? = self.channels[channel] else { return }
            self.channels[channel] = nil
            self.subscriber.sendWithoutReply([Array("UNSUBSCRIBE".utf8), Array(channel.utf8)])
        }
        channels[channel] = .leaving(timer)
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
