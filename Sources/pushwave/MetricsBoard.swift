import CoreMetrics
import Prometheus
@_spi(Internals) import Push
import Reactor
import Synchronization
import WebSocket

/// Collects the loops' counters for `/metrics`. Each loop copies its own counters here every
/// 250 ms; the loop answering a scrape uses its live counters and the others' latest copies,
/// so no counter is read from a thread that does not own it.
///
/// The loops keep counting in plain per-loop fields (no atomic per message); the totals are
/// handed to swift-metrics at scrape time, and swift-prometheus renders them.
///
/// A worker of `--processes` also writes its text for the other workers, and answers with
/// the sum of all of theirs (`WorkerMetricsFiles`).
final class MetricsBoard: Sendable {
    struct LoopCounters: Sendable {
        var statistics = WebSocketStatistics()
        var openConnections = 0
        /// Bytes queued for sending on the loop (copies, and shared batches once).
        var queuedOutboundBytes = 0
        var rejections: [Int: Int] = [:]
    }

    private let board = Mutex<[ObjectIdentifier: LoopCounters]>([:])
    private let server = Mutex<WebSocketServer?>(nil)
    private let hub = Mutex<TopicHub?>(nil)
    private let registry: PrometheusCollectorRegistry
    /// Held while totals are turned into increments, so two loops answering scrapes at the
    /// same time do not add the same difference twice.
    private let exported: Mutex<ExportedMetrics>
    /// Set in a worker of `--processes`: the files through which the workers share their figures.
    private let workers: WorkerMetricsFiles?

    /// `registry` is the one the process-wide `MetricsSystem` was bootstrapped with; make the
    /// board after the bootstrap, as its metrics are made at once.
    init(registry: PrometheusCollectorRegistry, workers: WorkerMetricsFiles? = nil) {
        self.registry = registry
        self.workers = workers
        exported = Mutex(ExportedMetrics())
    }

    func attach(_ push: PushServer) {
        let server = push.websocket
        self.server.withLock { $0 = server }
        hub.withLock { $0 = push.hub }
        for context in server.contexts {
            context.loop.execute { [self] in self.publishEvery250ms(context) }
        }
        if workers != nil, let first = server.contexts.first {
            first.loop.execute { [self] in self.writeWorkerFileEvery500ms(first) }
        }
    }

    /// Keeps this worker's file fresh for the other workers' scrapes.
    private func writeWorkerFileEvery500ms(_ context: WebSocketContext) {
        _ = workers?.publish { renderWorker(current: context) }
        context.loop.schedule(afterMilliseconds: WorkerMetricsFiles.publishIntervalMilliseconds) { [self] in
            writeWorkerFileEvery500ms(context)
        }
    }

    /// The Redis backplane's figures, nil without `--redis` (or before the server listens).
    var backplaneFigures: BackplaneFigures? {
        hub.withLock { $0 }?.backplaneFigures
    }

    private func publishEvery250ms(_ context: WebSocketContext) {
        publish(context)
        context.loop.schedule(afterMilliseconds: 250) { [self] in publishEvery250ms(context) }
    }

    private func counters(of context: WebSocketContext) -> LoopCounters {
        LoopCounters(
            statistics: context.statistics,
            openConnections: context.statistics.connectionsOpened - context.statistics.connectionsClosed,
            queuedOutboundBytes: context.queuedOutboundBytes,
            rejections: server.withLock { $0 }?.rejectedHandshakes(on: context) ?? [:])
    }

    private func publish(_ context: WebSocketContext) {
        let current = counters(of: context)
        board.withLock { $0[ObjectIdentifier(context)] = current }
    }

    /// The sum of every loop's counters, `current`'s live ones included.
    func totals(current: WebSocketContext) -> LoopCounters {
        publish(current)
        var total = LoopCounters()
        for counters in board.withLock({ Array($0.values) }) {
            total.statistics.add(counters.statistics)
            total.openConnections += counters.openConnections
            total.queuedOutboundBytes += counters.queuedOutboundBytes
            total.rejections.merge(counters.rejections, uniquingKeysWith: +)
        }
        return total
    }

    /// The Prometheus text exposition of the server: all loops' counters, and in a worker of
    /// `--processes` those of every worker summed.
    func render(current: WebSocketContext) -> [UInt8] {
        guard let workers else { return renderWorker(current: current) }
        let own = workers.publish { renderWorker(current: current) }
        return workers.exposition(own: own)
    }

    /// Redis connections down in this process, or with `--processes` in every worker
    /// (nil without `--redis`).
    func redisConnectionsDown(current: WebSocketContext) -> Int? {
        guard let workers else { return backplaneFigures?.connectionsDown }
        let own = workers.publish { renderWorker(current: current) }
        return workers.merge(own: own).merge.value(of: "pushwave_redis_connections_down").map { Int($0) }
    }

    /// This process's exposition: all its loops' counters.
    private func renderWorker(current: WebSocketContext) -> [UInt8] {
        let total = totals(current: current)
        let hub = hub.withLock { $0 }
        let history = hub?.historyFigures
        let backplane = hub?.backplaneFigures
        exported.withLock {
            $0.update(total, history: history)
            $0.update(backplane)
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

/// The swift-metrics handles of `/metrics`, and the totals already added to each counter:
/// the loops report totals, a counter takes increments.
private struct ExportedMetrics {
    /// A counter fed from a running total.
    struct TotalCounter {
        let counter: CoreMetrics.Counter
        var reported = 0

        init(_ label: String, dimensions: [(String, String)] = []) {
            counter = CoreMetrics.Counter(label: label, dimensions: dimensions)
        }

        /// A total smaller than the last one (it cannot happen while the loops only count up)
        /// is ignored rather than turned into a negative increment, which counters refuse.
        mutating func report(_ total: Int) {
            guard total > reported else { return }
            counter.increment(by: total - reported)
            reported = total
        }
    }

    var counters: [KeyPath<WebSocketStatistics, Int>: TotalCounter] = [
        \.connectionsOpened: TotalCounter("pushwave_connections_opened_total"),
        \.messagesReceived: TotalCounter("pushwave_messages_received_total"),
        \.messagesSent: TotalCounter("pushwave_messages_sent_total"),
        \.bytesReceived: TotalCounter("pushwave_bytes_received_total"),
        \.bytesSent: TotalCounter("pushwave_bytes_sent_total"),
        \.messagesDropped: TotalCounter("pushwave_messages_dropped_total"),
        \.slowConsumersClosed: TotalCounter("pushwave_slow_consumers_closed_total"),
        \.outboundMemoryRefusals: TotalCounter("pushwave_outbound_memory_refusals_total"),
        \.protocolErrors: TotalCounter("pushwave_protocol_errors_total"),
        \.messagesCompressed: TotalCounter("pushwave_deflate_messages_compressed_total"),
        \.bytesBeforeCompression: TotalCounter("pushwave_deflate_sent_bytes_before_total"),
        \.bytesAfterCompression: TotalCounter("pushwave_deflate_sent_bytes_after_total"),
        \.topicCompressions: TotalCounter("pushwave_deflate_topic_compressions_total"),
        \.messagesInflated: TotalCounter("pushwave_deflate_messages_inflated_total"),
        \.bytesBeforeInflation: TotalCounter("pushwave_deflate_received_bytes_before_total"),
        \.bytesAfterInflation: TotalCounter("pushwave_deflate_received_bytes_after_total"),
    ]
    let connectionsOpen = CoreMetrics.Gauge(label: "pushwave_connections_open")
    let deflateMemory = CoreMetrics.Gauge(label: "pushwave_deflate_memory_bytes")
    let outboundQueued = CoreMetrics.Gauge(label: "pushwave_outbound_queued_bytes")
    /// One counter per status, made when a status is first seen.
    var handshakeFailures: [Int: TotalCounter] = [:]
    var historyMessages: CoreMetrics.Gauge?
    var historyBytes: CoreMetrics.Gauge?
    var historyTrimmedEarly: TotalCounter?

    /// The Redis backplane's series, made on first use (a process without `--redis` has none).
    var redisDown: CoreMetrics.Gauge?
    var redisCounters: [KeyPath<BackplaneFigures, Int>: TotalCounter] = [:]

    mutating func update(_ backplane: BackplaneFigures?) {
        guard let backplane else { return }
        if redisDown == nil {
            redisDown = CoreMetrics.Gauge(label: "pushwave_redis_connections_down")
            redisCounters = [
                \.reconnects: TotalCounter("pushwave_redis_reconnects_total"),
                \.publicationsRefused: TotalCounter("pushwave_redis_publications_refused_total"),
                \.publicationsLost: TotalCounter("pushwave_redis_publications_lost_total"),
                \.messagesRepaired: TotalCounter("pushwave_redis_messages_repaired_total"),
                \.gapsWithoutHistory: TotalCounter("pushwave_redis_gaps_without_history_total"),
                \.resets: TotalCounter("pushwave_redis_resets_total"),
            ]
        }
        redisDown?.record(backplane.connectionsDown)
        for path in redisCounters.keys { redisCounters[path]?.report(backplane[keyPath: path]) }
    }

    mutating func update(_ total: MetricsBoard.LoopCounters, history: (messages: Int, bytes: Int, trimmedEarly: Int)?) {
        for path in counters.keys {
            counters[path]?.report(total.statistics[keyPath: path])
        }
        connectionsOpen.record(total.openConnections)
        deflateMemory.record(total.statistics.deflateMemoryBytes)
        outboundQueued.record(total.queuedOutboundBytes)
        for (status, count) in total.rejections {
            handshakeFailures[status, default: TotalCounter("pushwave_handshake_failures_total", dimensions: [("status", "\(status)")])]
                .report(count)
        }
        if let history {
            // Made on first use so that a process without a topic hub shows no history series.
            if historyMessages == nil {
                historyMessages = CoreMetrics.Gauge(label: "pushwave_history_messages")
                historyBytes = CoreMetrics.Gauge(label: "pushwave_history_bytes")
                historyTrimmedEarly = TotalCounter("pushwave_history_trimmed_early_total")
            }
            historyMessages?.record(history.messages)
            historyBytes?.record(history.bytes)
            historyTrimmedEarly?.report(history.trimmedEarly)
        }
    }
}
