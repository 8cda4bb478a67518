import Push
import Reactor
import Synchronization
import WebSocket

/// Collects the loops' counters for `/metrics`. Each loop copies its own counters here every
/// 250 ms; the loop answering a scrape uses its live counters and the others' latest copies,
/// so no counter is read from a thread that does not own it.
final class MetricsBoard: Sendable {
    struct LoopCounters: Sendable {
        var statistics = WebSocketStatistics()
        var openConnections = 0
        var rejections: [Int: Int] = [:]
    }

    private let board = Mutex<[ObjectIdentifier: LoopCounters]>([:])
    private let server = Mutex<WebSocketServer?>(nil)
    private let hub = Mutex<TopicHub?>(nil)

    func attach(_ push: PushServer) {
        let server = push.websocket
        self.server.withLock { $0 = server }
        hub.withLock { $0 = push.hub }
        for context in server.contexts {
            context.loop.execute { [self] in self.publishEvery250ms(context) }
        }
    }

    private func publishEvery250ms(_ context: WebSocketContext) {
        publish(context)
        context.loop.schedule(afterMilliseconds: 250) { [self] in publishEvery250ms(context) }
    }

    private func counters(of context: WebSocketContext) -> LoopCounters {
        LoopCounters(
            statistics: context.statistics,
            openConnections: context.statistics.connectionsOpened - context.statistics.connectionsClosed,
            rejections: server.withLock { $0 }?.rejectedHandshakes(on: context) ?? [:])
    }

    private func publish(_ context: WebSocketContext) {
        let current = counters(of: context)
        board.withLock { $0[ObjectIdentifier(context)] = current }
    }

    /// The Prometheus text exposition of all loops' counters.
    func render(current: WebSocketContext) -> String {
        publish(current)
        var total = LoopCounters()
        for counters in board.withLock({ Array($0.values) }) {
            total.statistics.add(counters.statistics)
            total.openConnections += counters.openConnections
            total.rejections.merge(counters.rejections, uniquingKeysWith: +)
        }
        let s = total.statistics
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ value: Int) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            lines.append("\(name) \(value)")
        }
        metric("pushwave_connections_open", "gauge", "Open WebSocket connections.", total.openConnections)
        metric("pushwave_connections_opened_total", "counter", "WebSocket connections opened.", s.connectionsOpened)
        metric("pushwave_messages_received_total", "counter", "Messages received.", s.messagesReceived)
        metric("pushwave_messages_sent_total", "counter", "Messages sent.", s.messagesSent)
        metric("pushwave_bytes_received_total", "counter", "Payload bytes received.", s.bytesReceived)
        metric("pushwave_bytes_sent_total", "counter", "Bytes sent in messages.", s.bytesSent)
        metric("pushwave_messages_dropped_total", "counter", "Messages dropped for slow consumers.", s.messagesDropped)
        metric("pushwave_slow_consumers_closed_total", "counter", "Connections closed for a full send buffer.", s.slowConsumersClosed)
        metric("pushwave_protocol_errors_total", "counter", "Connections failed for protocol errors.", s.protocolErrors)
        metric("pushwave_deflate_messages_compressed_total", "counter", "Messages compressed (a topic publish once per loop).", s.messagesCompressed)
        metric("pushwave_deflate_sent_bytes_before_total", "counter", "Bytes of compressed outgoing messages before compression.", s.bytesBeforeCompression)
        metric("pushwave_deflate_sent_bytes_after_total", "counter", "Bytes of compressed outgoing messages after compression.", s.bytesAfterCompression)
        metric("pushwave_deflate_topic_compressions_total", "counter", "Compressions made for topic publishes.", s.topicCompressions)
        metric("pushwave_deflate_messages_inflated_total", "counter", "Compressed messages received.", s.messagesInflated)
        metric("pushwave_deflate_received_bytes_before_total", "counter", "Bytes of compressed incoming messages as received.", s.bytesBeforeInflation)
        metric("pushwave_deflate_received_bytes_after_total", "counter", "Bytes of compressed incoming messages once inflated.", s.bytesAfterInflation)
        metric("pushwave_deflate_memory_bytes", "gauge", "zlib memory held by connections with context takeover (estimate).", s.deflateMemoryBytes)
        lines.append("# HELP pushwave_handshake_failures_total Rejected HTTP upgrade requests, by status.")
        lines.append("# TYPE pushwave_handshake_failures_total counter")
        for (status, count) in total.rejections.sorted(by: { $0.key < $1.key }) {
            lines.append("pushwave_handshake_failures_total{status=\"\(status)\"} \(count)")
        }
        if let history = hub.withLock({ $0 })?.historyFigures {
            metric("pushwave_history_messages", "gauge", "Messages kept in topic history.", history.messages)
            metric("pushwave_history_bytes", "gauge", "Bytes the topic history holds (payloads and bookkeeping).", history.bytes)
            metric("pushwave_history_trimmed_early_total", "counter", "History messages dropped before their topic's limits, to stay within --history-max-bytes.", history.trimmedEarly)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
