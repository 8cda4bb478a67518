import TLS
import Reactor
import WebSocket

#if canImport(Glibc)
import Glibc
#endif

enum Mode: String, Sendable {
    case echo
    case push
    case connect
    /// The HTTP publish API: keep-alive connections publishing in closed loop.
    case publish
}

/// Everything a run needs, decided once from the command line. Shared read-only by the
/// main thread and every loop; child processes rebuild the same plan from the same
/// arguments and take their own slice of it.
struct RunPlan: Sendable {
    var mode: Mode
    var url: WebSocketURL
    /// Push: where the publishers connect, when not to `url` (e.g. another node of a
    /// cluster joined through Redis, to measure delivery across nodes). Same scheme as `url`.
    var publishURL: WebSocketURL?
    /// Publish, and push with an `http://` `--publish-url`: the API endpoint the publishers
    /// POST to (with `url` its `ws://` twin: same host, port and path, for the report).
    var httpTarget: HTTPTarget?
    /// Extra header fields of every upgrade request (a connection token).
    var upgradeHeaders: [(name: String, value: String)] = []
    /// Event loops in this process.
    var threads: Int
    /// Local addresses to bind connections to, round-robin; empty: let the kernel choose.
    var sources: [SocketAddress]
    var maxMessageSize: Int
    /// The client TLS context for a wss:// URL, shared by every connection; nil for ws://.
    var tls: TLSContext?
    var json: Bool
    var maxErrors: Int
    /// What the generator offers; disabled unless `--deflate`.
    var deflate = DeflateConfiguration()
    /// This process's place among `processCount` (0 of 1 when there are no children).
    var processIndex = 0
    var processCount = 1
    /// Whether this process is a child of `--processes` (prints READY, waits for GO).
    var isChild = false

    // echo and connect
    /// Connections over all processes.
    var connections = 0
    var size = 16
    var binary = false
    var payloadStyle = PayloadStyle.pattern
    var pipeline = 1
    /// Messages per second over all connections and processes (open loop); nil: closed loop.
    var rate: Double?
    var duration = 10.0
    var warmup = 0.0
    /// Push: seconds between every connection being open and the first publish.
    var hold = 0.0
    /// Push: seconds to wait for deliveries after the last message was due.
    var deliveryWait = 2.0
    var rawEcho = false

    // push
    var subscribers = 0
    var publishers = 0
    /// Messages to publish in all (`--messages`); nil: publish at `rate` for the duration.
    var messages: Int?
    /// With `--protocol ws`: subscribers use the `/ws` protocol instead of the raw topic URL.
    var envelope: EnvelopeSubscription?

    // connect
    var connectRate = 1000.0
    /// Connect: instead of pacing at `connectRate`, keep this many handshakes in flight per
    /// loop, each one that ends starting the next (closed loop: handshakes per second).
    var connectInFlight: Int?
    /// Connect: whether the closing at the end is measured.
    var closing = Closing.teardown

    var kind: MessageKind { binary ? .binary : .text }

    // MARK: Slices

    /// The contiguous block of `total` items that process `index` of `count` takes.
    static func slice(_ total: Int, index: Int, count: Int) -> Range<Int> {
        let share = total / count
        let extra = total % count
        let start = index * share + min(index, extra)
        return start..<(start + share + (index < extra ? 1 : 0))
    }

    /// Global ids of this process's connections (echo, connect, publish) or subscribers (push).
    var localConnectionIDs: Range<Int> {
        Self.slice(mode == .push ? subscribers : connections, index: processIndex, count: processCount)
    }

    /// Global ids of this process's publishers: every `processCount`-th one.
    var localPublisherIDs: [Int] {
        mode == .push ? Array(stride(from: processIndex, to: publishers, by: processCount)) : []
    }

    /// The source address for connection `globalID` (publishers come after the subscribers).
    func source(for globalID: Int) -> SocketAddress? {
        sources.isEmpty ? nil : sources[globalID % sources.count]
    }

    // MARK: Push schedule

    /// Publish with `--count`: the requests connection `globalID` sends (the count shared out
    /// as evenly as the connections allow); without a count, no limit.
    func publishShare(of globalID: Int) -> Int {
        guard let messages else { return .max }
        return Self.slice(messages, index: globalID, count: connections).count
    }

    /// Push: the messages publisher `publisherID` sends (every `publishers`-th of the schedule).
    func pushShare(of publisherID: Int) -> Int {
        let messages = totalMessages
        return publisherID < messages ? (messages - publisherID + publishers - 1) / publishers : 0
    }

    /// Messages published in all. Message `g` (0-based, over all publishers) is due at
    /// `t0 + g / rate` and goes out from publisher `g % publishers` as that publisher's
    /// sequence number `g / publishers`: every process derives the same schedule.
    var totalMessages: Int {
        if let messages { return messages }
        return Int(((warmup + duration) * (rate ?? 0)).rounded(.up))
    }

    /// Intended send time of message `g`, relative to `t0`.
    func pushOffset(of message: Int) -> Int64 {
        Int64((Double(message) * 1e9 / (rate ?? 1)).rounded())
    }

    /// The smallest payload push can carry: publisher and sequence (16 hex digits), then the
    /// intended publish time (16 hex digits).
    static let pushHeaderSize = 32

    /// Bytes at the start of an echo payload that carry the sequence number (hex digits).
    var echoHeaderSize: Int { min(size, 16) }

    /// The WebSocket settings of the generator's connections: no keepalive of its own (it
    /// answers the server's pings), large limits, and it never closes itself for being slow.
    var webSocketConfiguration: WebSocketConfiguration {
        var configuration = WebSocketConfiguration()
        configuration.limits = FrameLimits(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize)
        configuration.pingIntervalMilliseconds = 0
        configuration.idleTimeoutMilliseconds = 0
        configuration.maxBufferedAmount = max(16 << 20, 4 * (size + 14))
        configuration.slowConsumerPolicy = .dropMessages
        // Only the teardown at the end waits on it: a server that does not finish the closing
        // handshake must not hold the report back. A measured closing has its own deadline,
        // which must come first (a connection reset by this timer would pass for closed).
        switch closing {
        case .teardown:
            configuration.closeTimeoutMilliseconds = 1_000
        case .measured(let timeout):
            configuration.closeTimeoutMilliseconds = Int64((timeout + 5) * 1000)
        }
        configuration.deflate = deflate
        return configuration
    }
}

/// How `connect` ends its connections.
enum Closing: Sendable, Equatable {
    /// Close frames sent and the connections torn down, neither checked nor timed: the
    /// report is made before.
    case teardown
    /// `--measure-close`: close frames sent all at once, and every connection's end checked
    /// (the server's close frame with 1000, then its end of TCP) and timed, for at most
    /// `timeout` seconds in all.
    case measured(timeout: Double)
}

/// Parses `--source-addresses`: a comma list of addresses and IPv4 ranges (`A-B`).
func parseSourceAddresses(_ text: String) throws -> [SocketAddress] {
    var result: [SocketAddress] = []
    for part in text.split(separator: ",") {
        let item = part.trimmingSpaces
        guard !item.isEmpty else { continue }
        let bounds = item.split(separator: "-", maxSplits: 1).map(\.trimmingSpaces)
        if bounds.count == 2, let low = ipv4(bounds[0]), let high = ipv4(bounds[1]) {
            guard low <= high, high - low < 65536 else { throw PlanError("bad source address range '\(item)'") }
            for value in low...high {
                let host = "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
                result.append(try SocketAddress(host: host, port: 0))
            }
        } else {
            do {
                result.append(try SocketAddress(host: item, port: 0))
            } catch {
                throw PlanError("bad source address '\(item)'")
            }
        }
    }
    guard !result.isEmpty else { throw PlanError("--source-addresses lists no address") }
    return result
}

private func ipv4(_ text: String) -> UInt32? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var value: UInt32 = 0
    for part in parts {
        guard let byte = UInt8(part) else { return nil }
        value = value << 8 | UInt32(byte)
    }
    return value
}

struct PlanError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

/// `push --protocol ws`: subscribers connect to the server's `/ws` and subscribe to the topic
/// of the raw URL the publishers use, so that the same publications arrive in envelopes.
struct EnvelopeSubscription: Sendable {
    let url: WebSocketURL
    /// `{"op":"subscribe","topic":"T"}`, sent once each subscriber is open.
    let subscribeCommand: [UInt8]

    /// From a raw topic URL (`/topics/NAME` or `/chat`); nil for another path.
    init?(rawURL: WebSocketURL) throws {
        // A query (a `?token=` from --token-in query) goes with the subscribers to /ws.
        let parts = rawURL.path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        let query = parts.count > 1 ? "?" + parts[1] : ""
        let topic: String
        if path.hasPrefix("/topics/") {
            topic = String(path.dropFirst("/topics/".count))
        } else if path == "/chat" {
            topic = "chat"
        } else {
            return nil
        }
        url = try WebSocketURL("\(rawURL.isSecure ? "wss" : "ws")://\(rawURL.host):\(rawURL.port)/ws\(query)")
        subscribeCommand = Array(#"{"op":"subscribe","topic":"\#(topic)"}"#.utf8)
    }

    /// The publication inside a `/ws` frame, where the generator's ASCII payload of `size`
    /// bytes sits unescaped: at the end of a text `message` envelope (`…"data":"PAYLOAD"}`),
    /// or after the binary framing's header. Nil for any other frame.
    static func payload(in frame: UnsafeRawBufferPointer, size: Int, kind: MessageKind) -> UnsafeRawBufferPointer? {
        let count = frame.count
        switch kind {
        case .text:
            guard count > size + 3, frame[count - 1] == UInt8(ascii: "}"), frame[count - 2] == UInt8(ascii: "\""),
                  frame[count - 3 - size] == UInt8(ascii: "\"") else { return nil }
            return UnsafeRawBufferPointer(rebasing: frame[(count - 2 - size)..<(count - 2)])
        case .binary:
            guard count >= 10, frame[0] == 1, count == 10 + Int(frame[9]) + size else { return nil }
            return UnsafeRawBufferPointer(rebasing: frame[(count - size)...])
        }
    }
}
