import Reactor
import WebSocket

#if canImport(Glibc)
import Glibc
#endif

// Every connection holds its loop's worker strongly: a strong `let` of a live object is used
// without reference counting, where an unowned reference costs a retain and a release per
// use. The cycle (the worker lists its connections) is broken when the run ends.

/// Where a generator connection is in its life, for telling failures apart.
enum LinkState: UInt8 {
    case connecting
    case open
    /// We started closing it (end of run, or it misbehaved): its end is not an error.
    case closingByUs
    case closed
}

/// What every WebSocket of the generator shares: its loop's worker, where it is in its life,
/// and when it started connecting. `connect` mode uses it as it is (open, then idle).
class GeneratorSocket: WebSocket, @unchecked Sendable {
    final let worker: LoopWorker
    @exclusivity(unchecked) final var state = LinkState.connecting
    final let startedAt = MonotonicClock.nanoseconds()

    init(worker: LoopWorker) {
        self.worker = worker
        super.init(context: worker.context)
    }

    override func didOpen() {
        state = .open
        worker.settled(opened: true, startedAt: startedAt)
    }

    override func didClose(code: CloseCode, reason: String) {
        worker.linkClosed(was: state, code: code, reason: reason, startedAt: startedAt)
        state = .closed
    }

    func finish() {
        guard state == .open || state == .connecting else { return }
        state = .closingByUs
        close()
    }
}

// MARK: Echo

/// `echo`: sends numbered messages and checks that each comes back unchanged, in order.
///
/// The payload is the connection's counter (`base | sequence`) in hex digits, then the
/// loop's fixed pattern; the send timestamps of the messages in flight wait in a ring.
final class EchoSocket: GeneratorSocket, @unchecked Sendable {
    /// The connection's global id in the high bits, so that an echo that strays onto another
    /// connection does not pass for one of its own.
    let base: UInt64
    @exclusivity(unchecked) var sendSequence: UInt64 = 0
    @exclusivity(unchecked) var receiveSequence: UInt64 = 0
    @exclusivity(unchecked) var inFlight: TimestampRing

    init(worker: LoopWorker, globalID: Int) {
        base = UInt64(globalID) << 40
        inFlight = TimestampRing(capacity: worker.plan.rate == nil ? worker.plan.pipeline : 64)
        super.init(worker: worker)
    }

    deinit { inFlight.deallocate() }

    /// Sends the next message; `intended` is when it should have left (now, in closed loop).
    @inline(__always)
    func sendMessage(intended: Int64) {
        let payload = worker.payload
        if worker.headerSize > 0 {
            Hex.store(base | sendSequence, at: payload.baseAddress.unsafelyUnwrapped, count: worker.headerSize)
        }
        switch send(UnsafeRawBufferPointer(payload), kind: worker.kind) {
        case .sent:
            sendSequence &+= 1
            inFlight.push(intended)
        case .dropped:
            worker.count(.sendDropped)
        case .closed:
            break
        }
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        let now = worker.readTime(self)
        let expected = base | receiveSequence
        let matches = message.withUnsafeBytes { worker.isExpectedEcho($0, kind: kind, value: expected) }
        guard matches, inFlight.count > 0 else {
            worker.count(.mismatch)
            state = .closingByUs
            close(code: .normalClosure, reason: "")
            return
        }
        receiveSequence &+= 1
        worker.recordRoundTrip(sentAt: inFlight.pop(), now: now)
        if worker.closedLoop, now < worker.sendUntil { sendMessage(intended: now) }
    }
}

/// `echo --raw-echo`: for a server that writes our bytes back unchanged (the frames stay
/// masked, which a WebSocket client must refuse). Plain TCP: the same upgrade request, then
/// masked frames out, and the byte stream coming back compared with what went out.
final class RawEchoSocket: TCPConnection, @unchecked Sendable {
    let worker: LoopWorker
    let base: UInt64
    let maskKey: UInt32
    @exclusivity(unchecked) var sendSequence: UInt64 = 0
    @exclusivity(unchecked) var receiveSequence: UInt64 = 0
    @exclusivity(unchecked) var inFlight: TimestampRing
    @exclusivity(unchecked) var state = LinkState.connecting
    /// How much of the response's "\r\n\r\n" has been seen, and its first bytes (the status).
    private var terminatorMatched = 0
    private var statusLine: [UInt8] = []
    private var responseBytes = 0
    private var tcpConnected = false
    let startedAt = MonotonicClock.nanoseconds()
    private var handshakeTimer: TimerHandle?
    /// Bytes of the current echoed frame already compared.
    @exclusivity(unchecked) private var frameOffset = 0

    init(worker: LoopWorker, globalID: Int) {
        self.worker = worker
        base = UInt64(globalID) << 40
        // Any key will do (the server does not unmask); each connection gets its own.
        maskKey = UInt32(truncatingIfNeeded: (UInt64(globalID) &* 0x9E37_79B9_7F4A_7C15) >> 32) | 0x0101_0101
        inFlight = TimestampRing(capacity: worker.plan.rate == nil ? worker.plan.pipeline : 64)
        super.init(loop: worker.loop)
    }

    deinit { inFlight.deallocate() }

    func start(from source: SocketAddress?) throws {
        try connect(to: worker.serverAddress, from: source)
        handshakeTimer = loop.schedule(afterMilliseconds: 10_000) { [unowned self] in
            handshakeTimer = nil
            if state == .connecting { reset() }
        }
    }

    override func connected() {
        tcpConnected = true
        worker.rawUpgradeRequest.withUnsafeBytes { write($0) }
    }

    @inline(__always)
    func sendMessage(intended: Int64) {
        guard state == .open else { return }
        guard bufferedAmount < worker.sendBufferLimit else {
            worker.count(.sendDropped)
            return
        }
        let value = base | sendSequence
        write(count: worker.rawFrameSize) { destination in
            worker.buildRawFrame(value: value, key: maskKey, into: destination)
        }
        sendSequence &+= 1
        inFlight.push(intended)
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        switch state {
        case .open:
            compare(UnsafeRawBufferPointer(bytes))
        case .connecting:
            readResponse(bytes)
        case .closingByUs, .closed:
            break
        }
    }

    private func readResponse(_ bytes: UnsafeMutableRawBufferPointer) {
        let terminator: (UInt8, UInt8, UInt8, UInt8) = (13, 10, 13, 10)
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if statusLine.count < 12 { statusLine.append(byte) }
            let wanted = withUnsafeBytes(of: terminator) { $0[terminatorMatched] }
            terminatorMatched = byte == wanted ? terminatorMatched + 1 : (byte == 13 ? 1 : 0)
            guard terminatorMatched == 4 else { continue }
            let status = String(decoding: statusLine, as: UTF8.self)
            guard status.hasPrefix("HTTP/1.1 101") else {
                worker.count(.handshakeFailed, detail: "bad handshake response: \(status)")
                state = .closed
                worker.settled(opened: false, startedAt: startedAt)
                closeTransport()
                return
            }
            if let handshakeTimer { loop.cancel(handshakeTimer) }
            handshakeTimer = nil
            statusLine = []
            state = .open
            worker.settled(opened: true, startedAt: startedAt)
            if index + 1 < bytes.count {
                compare(UnsafeRawBufferPointer(rebasing: bytes[(index + 1)...]))
            }
            return
        }
        responseBytes += bytes.count
        if responseBytes > 16 * 1024 { reset() }
    }

    /// Compares echoed bytes with the frames sent, frame by frame.
    private func compare(_ bytes: UnsafeRawBufferPointer) {
        let now = MonotonicClock.nanoseconds()
        let frameSize = worker.rawFrameSize
        let expected = worker.expectedFrame
        var offset = 0
        while offset < bytes.count {
            guard inFlight.count > 0 else {
                mismatch()
                return
            }
            let take = min(bytes.count - offset, frameSize - frameOffset)
            worker.buildRawFrame(value: base | receiveSequence, key: maskKey, into: expected)
            guard memcmp(bytes.baseAddress.unsafelyUnwrapped + offset, expected + frameOffset, take) == 0 else {
                mismatch()
                return
            }
            offset += take
            frameOffset += take
            if frameOffset == frameSize {
                frameOffset = 0
                receiveSequence &+= 1
                worker.recordRoundTrip(sentAt: inFlight.pop(), now: now)
                if worker.closedLoop, now < worker.sendUntil { sendMessage(intended: now) }
            }
        }
    }

    private func mismatch() {
        worker.count(.mismatch)
        state = .closingByUs
        closeTransport()
    }

    override func closed(_ reason: CloseReason) {
        if let handshakeTimer { loop.cancel(handshakeTimer) }
        handshakeTimer = nil
        switch state {
        case .connecting:
            worker.count(tcpConnected ? .handshakeFailed : .connectFailed, detail: "\(reason)")
            worker.settled(opened: false, startedAt: startedAt)
        case .open:
            worker.count(.closedEarly, detail: "\(reason)")
        case .closingByUs, .closed:
            break
        }
        state = .closed
    }

    func finish() {
        guard state == .open || state == .connecting else { return }
        state = .closingByUs
        closeTransport()
    }
}

// MARK: Push

/// `push`: a subscriber of the topic; checks every delivery's publisher sequence.
final class Subscriber: GeneratorSocket, @unchecked Sendable {
    /// Per publisher, the sequence number expected next.
    let nextSequence: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) var delivered = 0
    /// Open when publishing started: it should get every message.
    var expectsAll = false

    override init(worker: LoopWorker) {
        nextSequence = .allocate(capacity: max(1, worker.plan.publishers))
        nextSequence.initialize(repeating: 0, count: max(1, worker.plan.publishers))
        super.init(worker: worker)
    }

    deinit { nextSequence.deallocate() }

    /// With `--protocol ws`: subscribed, and the server's reply not yet in.
    private var awaitingSubscribed = false

    override func didOpen() {
        guard let envelope = worker.plan.envelope else { return super.didOpen() }
        // Counted as open only once subscribed: publishing waits for every subscription.
        awaitingSubscribed = true
        send(envelope.subscribeCommand, kind: .text)
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        let now = worker.readTime(self)
        guard worker.plan.envelope != nil else {
            message.withUnsafeBytes { worker.deliver($0, kind: kind, to: self, now: now) }
            return
        }
        guard !awaitingSubscribed else { return subscribed(message) }
        let size = worker.plan.size
        message.withUnsafeBytes { frame in
            // Anything else than a message (a reply) is passed on whole, and counted as a mismatch.
            worker.deliver(EnvelopeSubscription.payload(in: frame, size: size, kind: kind) ?? frame, kind: kind, to: self, now: now)
        }
    }

    /// The first frame on `/ws` answers the subscribe; anything but `subscribed` fails the link.
    private func subscribed(_ reply: RawSpan) {
        awaitingSubscribed = false
        let prefix = Array(#"{"op":"subscribed""#.utf8)
        let ok = reply.withUnsafeBytes { $0.count >= prefix.count && $0.prefix(prefix.count).elementsEqual(prefix) }
        guard ok else { return close(code: .policyViolation, reason: "subscribe refused") }
        super.didOpen()
    }
}

/// `push`: a publisher. The server subscribes it to the topic as well; what comes back to it
/// is read and dropped.
final class Publisher: GeneratorSocket, @unchecked Sendable {
    let publisherID: Int
    /// This publisher's next sequence number, and how many it publishes in all.
    var sequence = 0
    let total: Int

    init(worker: LoopWorker, publisherID: Int) {
        self.publisherID = publisherID
        total = worker.plan.pushShare(of: publisherID)
        super.init(worker: worker)
    }
}

// MARK: Connect

/// `connect`: opens, measures the time to open, then stays idle (answering pings). With
/// `--measure-close` it follows its closing handshake to the end.
final class IdleSocket: GeneratorSocket, @unchecked Sendable {
    /// Where a measured close stands.
    enum MeasuredClose {
        /// Not measured: not open when the closing began, or its end is counted already.
        case none
        /// Our close frame is out; the server's has not come.
        case awaitingAnswer
        /// The server's close frame came with this code; waiting for it to close TCP.
        case answered(CloseCode)
    }

    private var measuredClose = MeasuredClose.none

    /// Sends the close frame (1000) of an open connection, whose end is then measured.
    /// Returns false for a connection that is not open.
    func beginMeasuredClose() -> Bool {
        guard state == .open else { return false }
        measuredClose = .awaitingAnswer
        finish()
        return true
    }

    override func didReceiveClose(code: CloseCode, reason: String) {
        guard case .awaitingAnswer = measuredClose else { return }
        measuredClose = .answered(code)
    }

    override func didClose(code: CloseCode, reason: String) {
        super.didClose(code: code, reason: reason)
        guard let outcome = takeOutcome(ended: true) else { return }
        worker.measuredCloseEnded(outcome)
    }

    /// The closing ran out of time while this connection was still closing.
    func abandonMeasuredClose() {
        guard let outcome = takeOutcome(ended: false) else { return }
        worker.measuredCloseEnded(outcome)
    }

    /// The measured close's outcome, once: nil when it is not measured or already counted.
    private func takeOutcome(ended: Bool) -> CloseOutcome? {
        let outcome: CloseOutcome
        switch measuredClose {
        case .none:
            return nil
        case .awaitingAnswer:
            outcome = ended ? .endedWithoutAnswer : .unanswered
        case .answered(let code) where !ended:
            outcome = .answeredNotClosed(code)
        case .answered(let code):
            outcome = code == .normalClosure ? .clean : .wrongCode(code)
        }
        measuredClose = .none
        return outcome
    }
}

/// How a measured close ended.
enum CloseOutcome {
    /// The server answered with 1000 and closed the connection.
    case clean
    /// The server answered with another code (and closed the connection).
    case wrongCode(CloseCode)
    /// The connection ended without the server's close frame.
    case endedWithoutAnswer
    /// No close frame came from the server before the closing's deadline.
    case unanswered
    /// The server answered but had not closed the connection by the deadline.
    case answeredNotClosed(CloseCode)
}
