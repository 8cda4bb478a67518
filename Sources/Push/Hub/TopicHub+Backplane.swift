import Reactor
import WebSocket

/// The hub with a Redis backplane: every subscribed topic is kept in step with Redis, whose
/// offsets and epochs are the only ones clients see.
///
/// - On a topic's first local subscriber the node subscribes its channel, then reads where
///   the topic stands (and, for topics with history, its stream) into the local history,
///   which is a cache of the stream. `/ws` subscriptions wait for that read.
/// - A message after a gap (the subscriber connection dropped, Redis restarted) waits while
///   the missing offsets are read back from the stream; clients see no gap. When the stream
///   no longer has them, or for a topic without a stream, the gap stays: `/ws` subscribers
///   get `subscribed` with `recovered:false` (topics with history; the reset path of a
///   recovery that fails) or see the offsets jump (no history; counted and logged).
/// - A message in a new epoch (Redis lost the topic) resets the subscribers the same way.
/// - A recovery (`since`) the local history cannot serve is read from the stream.
///
/// Everything here runs under the hub's lock, on the backplane's loop for answers from
/// Redis, so that the order of delivered messages and of subscription starts is one.
extension TopicHub {
    // MARK: Syncing a topic

    /// Reads where `topic` stands in Redis once its channel is subscribed.
    func beginSync(_ topic: String, state: inout State, backplane: RedisBackplane) {
        let generation = state.nextSyncGeneration
        state.nextSyncGeneration += 1
        state.sync[topic] = .syncing(generation: generation, held: [], waiting: [])
        let shape = BackplaneScript.StreamShape(state.history.limits(for: topic))
        // The whole stream: `~` trimming leaves less than one node (100 entries) over its length.
        let count = shape.length > 0 ? shape.length + 100 : 0
        backplane.read(topic, first: 0, count: count, afterSubscribing: true) { [weak self] result in
            self?.synced(topic, generation: generation, result)
        }
    }

    private func synced(_ topic: String, generation: UInt64, _ result: Result<StreamRange, RedisBackplane.ReadFailure>) {
        guard let backplane else { return }
        let targets = targets
        let now = MonotonicClock.milliseconds()
        state.withLock { state in
            guard case .syncing(generation, let held, let waiting)? = state.sync[topic] else { return }
            switch result {
            case .success(let range):
                state.history.restart(topic, at: range.position, with: range.currentTail(now: now))
            case .failure(let failure):
                // The node goes on with its own position: the first message from Redis then
                // starts Redis's epoch, which resets the subscribers (bounded, and logged).
                backplane.logger.warning("Redis: could not read where \(topic) stands (\(failure)); its subscribers may be reset")
            }
            state.sync[topic] = .live
            for frame in held { arrive(topic, frame, state: &state, backplane: backplane, targets: targets) }
            for waiter in waiting {
                let recovery = waiter.since.map { state.history.recover(topic, since: $0, now: now) }
                    ?? .notRecoverable(current: state.history.position(of: topic))
                waiter.loop.execute { waiter.start(recovery) }
            }
        }
    }

    // MARK: Subscriptions

    /// Starts a `/ws` subscription: after the topic's first read from Redis, from the local
    /// history when it reaches back to `since`, else from the stream.
    func subscribeThroughRedis(_ topic: String, since: StreamPosition?, on loop: EventLoop, state: inout State,
                               backplane: RedisBackplane, start: @escaping @Sendable (Recovery) -> Void) {
        let now = MonotonicClock.milliseconds()
        if case .syncing(let generation, let held, var waiting)? = state.sync[topic] {
            waiting.append(SyncWaiter(since: since, loop: loop, start: start))
            state.sync[topic] = .syncing(generation: generation, held: held, waiting: waiting)
            return
        }
        let current = state.history.position(of: topic)
        guard let since else { return loop.execute { start(.notRecoverable(current: current)) } }
        let local = state.history.recover(topic, since: since, now: now)
        let limits = state.history.limits(for: topic)
        let shape = BackplaneScript.StreamShape(limits)
        guard case .notRecoverable = local, shape.length > 0, since.epoch == current.epoch, since.offset < current.offset else {
            return loop.execute { start(local) }
        }
        let count = Int(min(current.offset - since.offset, UInt64(shape.length + 100)))
        backplane.read(topic, first: since.offset + 1, count: count, afterSubscribing: false) { [weak self] result in
            self?.readForRecovery(topic, since: since, limits: limits, result, on: loop, start: start)
        }
    }

    private func readForRecovery(_ topic: String, since: StreamPosition, limits: HistoryLimits,
                                 _ result: Result<StreamRange, RedisBackplane.ReadFailure>, on loop: EventLoop,
                                 start: @escaping @Sendable (Recovery) -> Void) {
        let now = MonotonicClock.milliseconds()
        state.withLock { state in
            let recovery: Recovery
            switch result {
            case .success(let range): recovery = range.recovery(since: since, topic: topic, local: state.history, limits: limits, now: now)
            case .failure: recovery = .notRecoverable(current: state.history.position(of: topic))
            }
            loop.execute { start(recovery) }
        }
    }

    // MARK: Messages from Redis

    /// A message from Redis for a topic that has subscribers here.
    func arrive(_ topic: String, _ frame: BackplaneFrame, state: inout State, backplane: RedisBackplane, targets: [WebSocketContext]) {
        switch state.sync[topic] {
        case .syncing(let generation, var held, let waiting)?:
            Self.hold(frame, in: &held, topic: topic, backplane: backplane)
            state.sync[topic] = .syncing(generation: generation, held: held, waiting: waiting)
        case .repairing(var held)?:
            Self.hold(frame, in: &held, topic: topic, backplane: backplane)
            state.sync[topic] = .repairing(held: held)
        case .live?:
            live(topic, frame, state: &state, backplane: backplane, targets: targets, mayRepair: true)
        case nil:
            return
        }
    }

    private static func hold(_ frame: BackplaneFrame, in held: inout [BackplaneFrame], topic: String, backplane: RedisBackplane) {
        guard held.count < TopicSync.maxHeld else {
            if held.count == TopicSync.maxHeld { backplane.logger.warning("Redis: \(topic) waits too long for its stream; dropping messages") }
            return
        }
        held.append(frame)
    }

    /// Delivers the message, or starts repairing the gap before it.
    private func live(_ topic: String, _ frame: BackplaneFrame, state: inout State, backplane: RedisBackplane, targets: [WebSocketContext],
                      mayRepair: Bool) {
        let local = state.history.position(of: topic)
        switch Arrival(frame.position, after: local) {
        case .replay:
            return
        case .next:
            break
        case .newEpoch:
            backplane.logger.warning("Redis: \(topic) starts a new epoch (its keys were lost); resetting its subscribers")
            reset(topic, to: StreamPosition(offset: frame.position.offset - 1, epoch: frame.position.epoch), state: &state, targets: targets)
        case .gap(let missing):
            let shape = BackplaneScript.StreamShape(state.history.limits(for: topic))
            if shape.length == 0 {
                state.figures.gapsWithoutHistory += 1
                backplane.logger.warning("Redis: \(topic) missed offsets \(missing.lowerBound)...\(missing.upperBound) (no history to repair from)")
            } else if mayRepair {
                return repair(topic, missing, holding: frame, shape: shape, state: &state, backplane: backplane)
            } else {
                backplane.logger.warning("Redis: \(topic) missed offsets \(missing.lowerBound)...\(missing.upperBound), which its stream no longer has; resetting its subscribers")
                reset(topic, to: StreamPosition(offset: frame.position.offset - 1, epoch: frame.position.epoch), state: &state, targets: targets)
            }
        }
        deliverNow(topic, frame.position, kind: frame.kind, payload: frame.payload, state: &state, targets: targets)
    }

    private func deliverNow(_ topic: String, _ position: StreamPosition, kind: MessageKind, payload: [UInt8], state: inout State,
                            targets: [WebSocketContext]) {
        let now = MonotonicClock.milliseconds()
        guard let entry = state.history.append(topic, payload: payload, isText: kind == .text, now: now, at: position) else { return }
        _ = Self.fanOut(entry, of: topic, kind: kind, to: targets, state: &state)
    }

    private func repair(_ topic: String, _ missing: ClosedRange<UInt64>, holding frame: BackplaneFrame, shape: BackplaneScript.StreamShape,
                        state: inout State, backplane: RedisBackplane) {
        state.sync[topic] = .repairing(held: [frame])
        let count = Int(min(UInt64(missing.count), UInt64(shape.length + 100)))
        backplane.read(topic, first: missing.lowerBound, count: count, afterSubscribing: false) { [weak self] result in
            self?.repaired(topic, result)
        }
    }

    /// Delivers what the stream had of a gap, then the messages that waited behind it.
    private func repaired(_ topic: String, _ result: Result<StreamRange, RedisBackplane.ReadFailure>) {
        guard let backplane else { return }
        let targets = targets
        state.withLock { state in
            guard case .repairing(let held)? = state.sync[topic] else { return }
            state.sync[topic] = .live
            if case .success(let range) = result {
                for entry in range.entries {
                    let local = state.history.position(of: topic)
                    guard entry.epoch == local.epoch, range.position.epoch == local.epoch, entry.offset == local.offset + 1 else { continue }
                    deliverNow(topic, StreamPosition(offset: entry.offset, epoch: entry.epoch), kind: entry.kind, payload: entry.payload,
                               state: &state, targets: targets)
                    state.figures.messagesRepaired += 1
                }
            }
            for frame in held { live(topic, frame, state: &state, backplane: backplane, targets: targets, mayRepair: false) }
        }
    }

    /// Tells the topic's `/ws` subscribers to refetch their state: what follows comes after
    /// `position`. The same reply a failed recovery gets, sent on the loops' topic channels.
    private func reset(_ topic: String, to position: StreamPosition, state: inout State, targets: [WebSocketContext]) {
        state.figures.resets += 1
        let envelope = Envelope.subscribed(topic, .notRecoverable(current: position), id: nil)
        let channel = Self.envelopeChannel(topic)
        for context in targets {
            context.loop.execute { envelope.bytes.withUnsafeBytes { context.deliver(channel, $0, kind: envelope.kind) } }
        }
    }
}
