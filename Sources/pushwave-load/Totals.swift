import Push
import Histogram

/// What can go wrong, as reported in the `errors` object.
enum ErrorClass: Int, CaseIterable, Sendable {
    /// TCP connect failed (refused, unreachable, no local port or descriptor left).
    case connectFailed
    /// TCP connected but the upgrade was refused, malformed or timed out.
    case handshakeFailed
    /// The server closed an open connection before the run ended.
    case closedEarly
    /// An echo or delivery differs from what was sent (content, size, type or order).
    case mismatch
    /// Published messages a subscriber never received.
    case lost
    /// A delivery older than one the subscriber already had.
    case outOfOrder
    /// The connection failed for breaking the protocol (close 1002, 1003, 1007, 1009, 1010).
    case protocolError
    /// A send refused because the connection's send buffer was full.
    case sendDropped
    /// An HTTP publish answered with another status than 200 (see the statuses).
    case httpStatus
    /// `connect --measure-close`: the server answered our close with another code than 1000,
    /// not at all, or did not close the connection in time.
    case closeFailed

    var name: String {
        switch self {
        case .connectFailed: "connect_failed"
        case .handshakeFailed: "handshake_failed"
        case .closedEarly: "closed_early"
        case .mismatch: "mismatch"
        case .lost: "lost"
        case .outOfOrder: "out_of_order"
        case .protocolError: "protocol"
        case .sendDropped: "send_dropped"
        case .httpStatus: "http_status"
        case .closeFailed: "close_failed"
        }
    }
}

/// Error counts by class.
struct ErrorCounts: Sendable {
    private var counts = [Int](repeating: 0, count: ErrorClass.allCases.count)

    subscript(errorClass: ErrorClass) -> Int {
        get { counts[errorClass.rawValue] }
        set { counts[errorClass.rawValue] = newValue }
    }

    var total: Int { counts.reduce(0, +) }

    mutating func add(_ other: ErrorCounts) {
        for index in counts.indices { counts[index] += other.counts[index] }
    }

    var json: JSON {
        .object(ErrorClass.allCases.map { ($0.name, .int(self[$0])) })
    }

    init() {}

    init(json: JSON?) {
        for errorClass in ErrorClass.allCases {
            self[errorClass] = json?[errorClass.name]?.intValue ?? 0
        }
    }

    /// "none", or "mismatch 3, closed_early 1".
    var summary: String {
        let nonZero = ErrorClass.allCases.filter { self[$0] > 0 }
        return nonZero.isEmpty ? "none" : nonZero.map { "\($0.name) \(grouped(self[$0]))" }.joined(separator: ", ")
    }
}

typealias LatencyHistogram = Histogram<UInt64>

/// Nanoseconds from 1 ns to 100 s with three significant digits (growing past that if
/// needed): about 230 KB per histogram, one per loop.
func makeLatencyHistogram() -> LatencyHistogram {
    var histogram = LatencyHistogram(lowestDiscernibleValue: 1, highestTrackableValue: 100_000_000_000, numberOfSignificantValueDigits: .three)
    histogram.autoResize = true
    return histogram
}

extension Histogram where Count == UInt64 {
    /// The non-empty buckets as `[[value, count], ...]`: what a child process hands its
    /// parent, which records them again into its own histogram.
    var bucketsJSON: JSON {
        .array(recordedValues().map { .array([.int(Int(clamping: $0.value)), .int(Int(clamping: $0.count))]) })
    }

    mutating func record(buckets json: JSON?) {
        guard case .array(let buckets)? = json else { return }
        for bucket in buckets {
            guard case .array(let pair) = bucket, pair.count == 2,
                let value = pair[0].intValue, let count = pair[1].intValue, value >= 0, count > 0
            else { continue }
            record(UInt64(value), count: UInt64(count))
        }
    }

    /// p50, p90, p99, p99.9 and max in microseconds.
    var summaryJSON: JSON {
        func microseconds(_ nanoseconds: UInt64) -> JSON { .figure(Double(nanoseconds) / 1000) }
        let empty = totalCount == 0
        return .object([
            ("p50", microseconds(empty ? 0 : valueAtPercentile(50))),
            ("p90", microseconds(empty ? 0 : valueAtPercentile(90))),
            ("p99", microseconds(empty ? 0 : valueAtPercentile(99))),
            ("p999", microseconds(empty ? 0 : valueAtPercentile(99.9))),
            ("max", microseconds(empty ? 0 : max)),
            ("mean", .figure(empty ? 0 : mean / 1000)),
            ("count", .int(Int(totalCount))),
        ])
    }

    var summaryText: String {
        guard totalCount > 0 else { return "no samples" }
        func us(_ nanoseconds: UInt64) -> String { fixed(Double(nanoseconds) / 1000, 1) }
        return "p50 \(us(valueAtPercentile(50)))  p90 \(us(valueAtPercentile(90)))  p99 \(us(valueAtPercentile(99)))"
            + "  p99.9 \(us(valueAtPercentile(99.9)))  max \(us(max))"
    }
}

/// The counts of one loop, one process, or a whole run (the sum of its processes).
struct RunTotals: Sendable {
    /// Connections (of every kind) that completed the upgrade.
    var connected = 0
    /// Connections attempted.
    var attempted = 0
    /// Echoes (echo) or deliveries (push) inside the measuring window.
    var messages = 0
    /// Their payload bytes.
    var bytes = 0
    /// Every echo or in-order delivery, inside the window or not.
    var received = 0
    var errors = ErrorCounts()
    /// Round trip (echo) or publish-to-delivery (push) latency, nanoseconds.
    var latency = makeLatencyHistogram()
    /// TCP connect start to WebSocket open, nanoseconds.
    var connectLatency = makeLatencyHistogram()

    // push
    var published = 0
    /// Deliveries a subscriber should have had: open subscribers x messages published in all.
    var expectedDeliveries = 0
    /// Monotonic time of the first publish and of the last delivery (for fan-out time).
    var firstPublish = Int64.max
    var lastDelivery = Int64.min
    /// HTTP publishing: answers by status code.
    var statuses: [Int: Int] = [:]

    // connect --measure-close
    /// Connections whose close was measured, and those that ended cleanly (the server's close
    /// frame with 1000, then its end of TCP).
    var closesStarted = 0
    var cleanCloses = 0
    /// Monotonic time of the first close frame sent and of the last clean close.
    var closeStart = Int64.max
    var lastCleanClose = Int64.min

    /// Ctrl-C ended the run early; `measuredSeconds` is then the window actually measured.
    var interrupted = false
    /// The measuring window in seconds of an interrupted run (the longest of its processes).
    var measuredSeconds = 0.0
    /// CPU seconds the generator used while the traffic ran (all its processes).
    var cpuSeconds = 0.0
    /// Seconds from the first connect until every connection had opened or failed (the
    /// longest of the processes).
    var setupSeconds = 0.0

    mutating func add(_ other: RunTotals) {
        connected += other.connected
        attempted += other.attempted
        messages += other.messages
        bytes += other.bytes
        received += other.received
        errors.add(other.errors)
        latency.add(other.latency)
        connectLatency.add(other.connectLatency)
        published += other.published
        expectedDeliveries += other.expectedDeliveries
        firstPublish = min(firstPublish, other.firstPublish)
        lastDelivery = max(lastDelivery, other.lastDelivery)
        statuses.merge(other.statuses, uniquingKeysWith: +)
        closesStarted += other.closesStarted
        cleanCloses += other.cleanCloses
        closeStart = min(closeStart, other.closeStart)
        lastCleanClose = max(lastCleanClose, other.lastCleanClose)
        interrupted = interrupted || other.interrupted
        measuredSeconds = max(measuredSeconds, other.measuredSeconds)
        cpuSeconds += other.cpuSeconds
        setupSeconds = max(setupSeconds, other.setupSeconds)
    }

    /// `{"200": N, "401": M}`, by code.
    var statusesJSON: JSON {
        .object(statuses.sorted { $0.key < $1.key }.map { (String($0.key), .int($0.value)) })
    }

    /// Time from the first publish to the last delivery, in milliseconds.
    var fanoutMilliseconds: Double {
        guard firstPublish != .max, lastDelivery != .min, lastDelivery >= firstPublish else { return 0 }
        return Double(lastDelivery - firstPublish) / 1e6
    }

    /// Seconds from the first close frame sent to the last clean close.
    var closeSeconds: Double {
        guard closeStart != .max, lastCleanClose != .min, lastCleanClose >= closeStart else { return 0 }
        return Double(lastCleanClose - closeStart) / 1e9
    }

    // MARK: Between processes

    /// Everything the parent needs to merge this process into the run.
    var childJSON: JSON {
        .object([
            ("connected", .int(connected)),
            ("attempted", .int(attempted)),
            ("messages", .int(messages)),
            ("bytes", .int(bytes)),
            ("received", .int(received)),
            ("errors", errors.json),
            ("published", .int(published)),
            ("expected_deliveries", .int(expectedDeliveries)),
            ("first_publish_ns", .int(Int(firstPublish))),
            ("last_delivery_ns", .int(Int(lastDelivery))),
            ("statuses", statusesJSON),
            ("closes_started", .int(closesStarted)),
            ("clean_closes", .int(cleanCloses)),
            ("close_start_ns", .int(Int(closeStart))),
            ("last_clean_close_ns", .int(Int(lastCleanClose))),
            ("interrupted", .bool(interrupted)),
            ("measured_s", .double(measuredSeconds)),
            ("cpu_s", .double(cpuSeconds)),
            ("setup_s", .double(setupSeconds)),
            ("latency_histogram_ns", latency.bucketsJSON),
            ("connect_histogram_ns", connectLatency.bucketsJSON),
        ])
    }

    init() {}

    init?(childJSON json: JSON) {
        guard let child = json["child"] else { return nil }
        connected = child["connected"]?.intValue ?? 0
        attempted = child["attempted"]?.intValue ?? 0
        messages = child["messages"]?.intValue ?? 0
        bytes = child["bytes"]?.intValue ?? 0
        received = child["received"]?.intValue ?? 0
        errors = ErrorCounts(json: child["errors"])
        published = child["published"]?.intValue ?? 0
        expectedDeliveries = child["expected_deliveries"]?.intValue ?? 0
        firstPublish = Int64(child["first_publish_ns"]?.intValue ?? Int(Int64.max))
        lastDelivery = Int64(child["last_delivery_ns"]?.intValue ?? Int(Int64.min))
        if case .object(let fields)? = child["statuses"] {
            for (code, count) in fields {
                if let code = Int(code), let count = count.intValue { statuses[code, default: 0] += count }
            }
        }
        closesStarted = child["closes_started"]?.intValue ?? 0
        cleanCloses = child["clean_closes"]?.intValue ?? 0
        closeStart = Int64(child["close_start_ns"]?.intValue ?? Int(Int64.max))
        lastCleanClose = Int64(child["last_clean_close_ns"]?.intValue ?? Int(Int64.min))
        interrupted = child["interrupted"] == .bool(true)
        measuredSeconds = child["measured_s"]?.doubleValue ?? 0
        cpuSeconds = child["cpu_s"]?.doubleValue ?? 0
        setupSeconds = child["setup_s"]?.doubleValue ?? 0
        latency.record(buckets: child["latency_histogram_ns"])
        connectLatency.record(buckets: child["connect_histogram_ns"])
    }
}

/// The message path's latency recorder: the same buckets as an HDR histogram with three
/// significant digits (2,048 sub-buckets, unit 1 ns), counted in a flat array with one
/// shift and one increment per sample, and no reference counting. `histogram` turns it
/// into an HDR histogram for merging and percentiles.
struct LatencyRecorder {
    private static let subBucketBits = 11
    private static let halfCount = 1 << (subBucketBits - 1)
    /// Buckets up to 2^40 ns (about 18 minutes); longer samples are clamped.
    private static let bucketCount = 40 - subBucketBits + 2
    private static let slots = (bucketCount + 1) * halfCount

    private let counts: UnsafeMutablePointer<UInt64>
    private(set) var total: UInt64 = 0

    init() {
        counts = .allocate(capacity: Self.slots)
        counts.initialize(repeating: 0, count: Self.slots)
    }

    func deallocate() {
        counts.deallocate()
    }

    @inline(__always)
    mutating func record(_ nanoseconds: Int64) {
        let value = UInt64(min(max(nanoseconds, 1), 1 << 40 - 1))
        // Values below 2,048 index directly; above, keep the top 11 bits.
        let magnitude = max(0, 64 - value.leadingZeroBitCount - Self.subBucketBits)
        let index = magnitude &* Self.halfCount &+ Int(truncatingIfNeeded: value >> UInt64(magnitude))
        counts[index] &+= 1
        total &+= 1
    }

    mutating func reset() {
        counts.update(repeating: 0, count: Self.slots)
        total = 0
    }

    /// The samples so far as an HDR histogram (each bucket recorded at its lowest value, which
    /// falls in the same HDR bucket).
    var histogram: LatencyHistogram {
        var histogram = makeLatencyHistogram()
        guard total > 0 else { return histogram }
        for index in 0..<Self.slots where counts[index] > 0 {
            let magnitude = max(0, index / Self.halfCount - 1)
            let mantissa = magnitude == 0 ? index : index - magnitude * Self.halfCount
            histogram.record(UInt64(mantissa) << UInt64(magnitude), count: counts[index])
        }
        return histogram
    }
}
