import Logging
import Reactor
import TLS

/// One WebSocket connection, server or client side, on an event loop.
///
/// Subclass it and override the callbacks — `didOpen()`, `didReceive(_:kind:)`,
/// `didClose(code:reason:)`, and if needed `didReceivePong(_:)` and `didDrain()` — then
/// hand instances out from a `WebSocketServer` route, or call `connect(to:)` for a client.
/// Everything runs on the loop's thread.
///
/// Received messages are borrowed views (`RawSpan`) into the loop's receive buffer: the
/// compiler does not let them escape the callback; copy what must be kept (`byteArray`,
/// `utf8String`). Sends are corked while the connection handles its input, so all the
/// replies to one read leave in one system call.
open class WebSocket: TCPConnection, @unchecked Sendable {
    /// One byte: the client's upgrade in progress is kept in the extras, not in the phase.
    enum Phase: UInt8 {
        /// Created and not yet in use: a client before `connect`, a server connection before
        /// the handshake hands it the socket.
        case idle
        /// Client only: TCP connect and HTTP upgrade in progress (`ConnectionExtras.clientUpgrade`).
        case handshaking
        case open
        /// Server only: the peer's close frame arrived and the answer waits for one of the
        /// loop's handshake turns (`waitForHandshakeTurn()`).
        case closeAnswerDue
        /// A close frame has been sent (by either side's initiative); data is no longer sent.
        case closing
        case closed
    }

    /// The shared settings, counters and topics of this connection's group.
    public let context: WebSocketContext
    // See `TCPConnection` on `@exclusivity(unchecked)`.
    @exclusivity(unchecked)
    private var parser: FrameParser
    // The fields below are ordered so that they pack without padding: an idle connection's
    // object is most of what it costs (`ConnectionFootprintTests`). The parser ends 2 bytes
    // past an 8-byte boundary: six bytes of small fields fill up to the next one, the two
    // references follow, the 4-byte fields come last, so the object ends at 148 bytes and a
    // subclass's first 4-byte field packs in front of its references (`PushSocket` fits a
    // 176-byte block).
    @exclusivity(unchecked)
    var phase = Phase.idle
    /// True while `parser` is copied out for a parse; see `parseFrames(_:)`.
    @exclusivity(unchecked)
    private var parsing = false
    /// The close code `didClose` reports; nil means no close frame (1006).
    private var closeCode: CloseCode?
    @exclusivity(unchecked)
    private var awaitingPong = false
    /// The topics this connection subscribes to on its context's `TopicRegistry`; nil for
    /// none. Kept here rather than in the registry: a dictionary entry per subscriber (and
    /// one per topic for its place) cost more than the connection's object.
    @exclusivity(unchecked)
    var topicMemberships: TopicMemberships?
    /// What only some connections need, kept out of line so idle ones stay small.
    var extras: ConnectionExtras?
    /// Whether and how sent messages are compressed (permessage-deflate); set before opening.
    @exclusivity(unchecked)
    var sendCompression = SendCompression.off
    /// Loop time of the last input, for pings and the idle timeout: its low 32 bits, which
    /// measure any silence up to 49 days with wrapping subtraction, in half the space.
    @exclusivity(unchecked)
    private var lastInput: UInt32 = 0
    /// Its place among the subscribers of its one topic, while `topicMemberships` is `.one`.
    var topicPosition: Int32 = 0

    /// Creates a connection on `context`'s loop. A server route creates it in
    /// ``ServerResponse/upgrade(subprotocol:makeSocket:)``; a client calls
    /// ``connect(to:from:subprotocols:headers:tls:)`` on it.
    public init(context: WebSocketContext) {
        self.context = context
        parser = FrameParser()
        super.init(loop: context.loop)
    }

    // MARK: Callbacks for subclasses

    /// The handshake is complete; messages can be sent.
    open func didOpen() {}

    /// A complete text or binary message. `message` is valid only during this call; text has
    /// been validated as UTF-8.
    open func didReceive(_ message: RawSpan, kind: MessageKind) {}

    /// A pong arrived (an answer to `ping(_:)`, or unsolicited).
    open func didReceivePong(_ payload: RawSpan) {}

    /// The send buffer, which had filled up, is empty again.
    open func didDrain() {}

    /// The connection is closed. `code` is the peer's close code (1005 when its close frame
    /// had none), ours when we closed first or failed the connection, and 1006 when the TCP
    /// connection ended without a closing handshake. Called exactly once.
    open func didClose(code: CloseCode, reason: String) {}

    /// The peer's close frame arrived: its code (1005 when it had none) and reason; called
    /// before ``didClose(code:reason:)``, whichever side began the closing handshake. After
    /// ``close(code:reason:)`` it is the only sign that the peer answered: `didClose` then
    /// reports our own code.
    open func didReceiveClose(code: CloseCode, reason: String) {}

    // MARK: Sending

    /// Sends a message. Returns `.dropped` when the connection's send buffer is full and the
    /// slow-consumer policy drops messages, `.closed` when the connection is closing.
    ///
    /// Order: the connection's output leaves in the order it was issued on its loop. Messages
    /// published to its topics wait for the end of the loop iteration (to be written together),
    /// except when a `send` (or `close`) to this connection comes after them: they are then
    /// written first. A publish from another loop, or from `WebSocketServer.publish`, counts
    /// as issued when it reaches this connection's loop.
    @discardableResult
    public func send(_ payload: UnsafeRawBufferPointer, kind: MessageKind) -> SendStatus {
        sendFrame(kind.opcode, payload)
    }

    /// Sends a message from a borrowed view, e.g. echoing one just received.
    @discardableResult
    public func send(_ message: RawSpan, kind: MessageKind) -> SendStatus {
        message.withUnsafeBytes { sendFrame(kind.opcode, $0) }
    }

    /// Sends a text message.
    @discardableResult
    public func send(text: String) -> SendStatus {
        var text = text
        return text.withUTF8 { sendFrame(.text, UnsafeRawBufferPointer($0)) }
    }

    /// Sends a message from an array.
    @discardableResult
    public func send(_ bytes: [UInt8], kind: MessageKind) -> SendStatus {
        bytes.withUnsafeBytes { sendFrame(kind.opcode, $0) }
    }

    /// Sends a ping (payload of at most 125 bytes); the peer answers with a pong.
    @discardableResult
    public func ping(_ payload: [UInt8] = []) -> SendStatus {
        precondition(payload.count <= 125, "a ping payload is at most 125 bytes")
        return payload.withUnsafeBytes { sendFrame(.ping, $0) }
    }

    /// Whether data may be sent: the connection is open, and so is its TCP connection (which
    /// can be on its way out, e.g. closing after the peer's FIN, before `closed` is called).
    public final var canSend: Bool {
        if case .open = phase { isOpen } else { false }
    }

    /// Sends one frame: header and payload written back to back (masked for a client).
    func sendFrame(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> SendStatus {
        guard canSend else { return .closed }
        if context.topics.hasPendingBatches {
            context.topics.deliverPending(to: self)
            guard canSend else { return .closed }
        }
        if let refusal = backpressure(adding: payload.count) {
            return refuseForBackpressure(refusal)
        }
        switch sendCompression {
        case .off:
            break
        case .shared, .dedicated:
            if !opcode.isControl { return sendCompressible(opcode, payload) }
        }
        writeFrame(opcode, payload)
        context.statistics.messagesSent += 1
        context.statistics.bytesSent += payload.count
        return .sent
    }

    /// A data message on a connection that negotiated permessage-deflate: compressed when
    /// that is worth it (see `compressForSending`), plain otherwise.
    private func sendCompressible(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> SendStatus {
        switch compressForSending(payload) {
        case .plain:
            writeFrame(opcode, payload)
        case .compressed(let compressed):
            writeFrame(opcode, compressed, compressed: true)
            context.compression.releaseLargeScratch()
        case .failed:
            fail(.internalError, reason: "compression failed")
            return .closed
        }
        context.statistics.messagesSent += 1
        context.statistics.bytesSent += payload.count
        return .sent
    }

    /// Writes a frame without the buffer check (close frames must get out). Inlined: the
    /// common case is a few loads and stores, less than a call's own cost.
    @inline(__always)
    private func writeFrame(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer, compressed: Bool = false) {
        // The most common frame of all, a server's short message while corked (an answer to
        // input): its 2-byte header and payload go straight into the cork buffer.
        if context.role == .server, payload.count <= 125, let start = reserveInCork(2 + payload.count) {
            _ = FrameEncoder.writeFrame(into: start, opcode: opcode, fin: true, payload: payload, maskKey: nil, compressed: compressed)
            return
        }
        writeAnyFrame(opcode, payload, compressed: compressed)
    }

    /// `writeFrame` for every other frame: a client's (masked), a large one, or one written
    /// while not corked. Kept apart so that the common case above compiles to a few loads
    /// and stores.
    @inline(never)
    private func writeAnyFrame(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer, compressed: Bool) {
        let size = FrameEncoder.headerSize(payloadLength: payload.count, masked: context.role == .client) + payload.count
        let maskKey: UInt32? = context.role == .client ? context.nextMaskKey() : nil
        if maskKey == nil, payload.count > Self.largePayload {
            // Large server payloads go out as header + payload in one `sendmsg`, uncopied
            // when the kernel takes them whole.
            var header: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &header) { headerBytes in
                let headerSize = FrameEncoder.writeHeader(
                    into: headerBytes.baseAddress.unsafelyUnwrapped, opcode: opcode, fin: true,
                    payloadLength: payload.count, maskKey: nil, compressed: compressed)
                write(UnsafeRawBufferPointer(rebasing: headerBytes[..<headerSize]), payload)
            }
            return
        }
        // Small frames are built in place, in the cork buffer while corked.
        write(count: size) { destination in
            _ = FrameEncoder.writeFrame(
                into: destination, opcode: opcode, fin: true, payload: payload, maskKey: maskKey, compressed: compressed)
        }
    }

    /// Above this size a server payload is not copied into the cork buffer.
    private static let largePayload = 16 * 1024

    /// Writes a batch of frames published to a topic this connection subscribes to, copying
    /// what the kernel does not take (the batch is still growing; see `Topic.deliverEarly`).
    func sendBatch(_ frames: UnsafeRawBufferPointer, messageCount: Int) {
        guard canSend else { return }
        if let refusal = backpressure(adding: frames.count) {
            _ = refuseForBackpressure(refusal, messageCount: messageCount)
            return
        }
        write(frames)
        context.statistics.messagesSent += messageCount
        context.statistics.bytesSent += frames.count
    }

    /// Writes a topic's batch from the buffer it shares with the other subscribers, from
    /// `start` (what `Topic.deliverEarly` already sent is skipped): what the kernel does not
    /// take stays queued as a reference, not a copy.
    func sendBatch(_ frames: SharedBuffer, from start: Int, messageCount: Int) {
        guard canSend else { return }
        if let refusal = backpressure(adding: frames.count - start) {
            _ = refuseForBackpressure(refusal, messageCount: messageCount)
            return
        }
        write(frames, from: start)
        context.statistics.messagesSent += messageCount
        context.statistics.bytesSent += frames.count - start
    }

    /// Why a send of `size` more bytes is refused, or nil when it may go out.
    ///
    /// A connection with nothing queued always takes the message, whatever its size (else a
    /// message over the limit could never be sent); one with a queue takes it only if the
    /// queue stays within ``WebSocketConfiguration/maxBufferedAmount`` and the loop is within
    /// its share of ``WebSocketConfiguration/maxOutboundMemory``. Over that share the
    /// connections with a backlog — the slow ones, which hold the memory — are refused first.
    ///
    /// Bytes in the loop's cork buffer are not a backlog (they leave when the input callback
    /// returns, and the cork buffer is the loop's, whatever they are), so only the send queue
    /// counts: replies to one read that fill the cork do not refuse a large echo.
    @inline(__always)
    private func backpressure(adding size: Int) -> BackpressureRefusal? {
        guard hasQueuedOutput else { return nil }
        if queuedAmount + size > context.configuration.maxBufferedAmount { return .connectionLimit }
        if loop.outboundMemory.queuedBytes >= context.outboundBudget { return .processLimit }
        return nil
    }

    private func refuseForBackpressure(_ refusal: BackpressureRefusal, messageCount: Int = 1) -> SendStatus {
        if refusal == .processLimit { context.statistics.outboundMemoryRefusals += messageCount }
        switch context.configuration.slowConsumerPolicy {
        case .dropMessages:
            context.statistics.messagesDropped += messageCount
            return .dropped
        case .close:
            context.statistics.slowConsumersClosed += 1
            context.logger.debug("closing a slow consumer", metadata: ["buffered": "\(bufferedAmount)", "limit": "\(refusal)"])
            switch refusal {
            case .connectionLimit: fail(.policyViolation, reason: "send buffer limit reached")
            case .processLimit: dropForMemory()
            }
            return .closed
        }
    }

    /// Closes at once, freeing the backlog now: over the process's budget the memory is
    /// what matters, and a close frame would only wait behind the very bytes being freed
    /// (the peer sees the connection reset; ``didClose(code:reason:)`` reports 1008).
    private func dropForMemory() {
        closeCode = .policyViolation
        closeReason = "server send memory limit reached"
        reset()
    }

    // MARK: Topics

    /// Subscribes to `topic` on this connection's loop (and thereby to what is published to it
    /// from any loop of the same server). Closing the connection unsubscribes it; once closed
    /// (from ``didClose(code:reason:)`` on, or in a task that runs after it) this does nothing.
    public func subscribe(_ topic: String) {
        precondition(context.role == .server, "topics are for server connections")
        // Closing unsubscribed the connection from everything, once: a subscription taken
        // after that would never be removed, and the topic would keep the connection (and
        // through it its context and loop) alive for good. A write that fails on a reset
        // connection closes it in the middle of its owner's code, which may subscribe next.
        if case .closed = phase { return }
        context.subscribe(self, to: topic)
    }

    /// Stops receiving what is published to `topic`; nothing if not subscribed.
    public func unsubscribe(_ topic: String) {
        context.unsubscribe(self, from: topic)
    }

    /// Publishes a message to every subscriber of `topic`, on every loop of the server.
    ///
    /// Subscribers on this loop get it before anything sent to them afterwards (see
    /// `send(_:kind:)`); on other loops it arrives when their task queue runs, so it is
    /// ordered only with what is issued there after that.
    public func publish(_ topic: String, _ message: RawSpan, kind: MessageKind) {
        message.withUnsafeBytes { context.publish(topic, $0, kind: kind) }
    }

    // MARK: Closing

    /// Starts the closing handshake with 1000 (normal closure).
    public final override func close() {
        close(code: .normalClosure, reason: "")
    }

    /// Starts the closing handshake: sends a close frame, then waits (up to the close
    /// timeout) for the peer's. No message is sent after this.
    public func close(code: CloseCode, reason: String) {
        switch phase {
        case .open:
            // What was published to this connection before the close goes out before it.
            if context.topics.hasPendingBatches {
                context.topics.deliverPending(to: self)
                guard case .open = phase else { return }  // closed as a slow consumer
            }
            beginClosing(code: code, reason: reason)
        case .handshaking:
            phase = .closed
            closeTransport()
        case .idle, .closeAnswerDue, .closing, .closed:
            return
        }
    }

    /// Fails the connection: a close frame with `code`, then TCP closes as soon as it is sent,
    /// without waiting for the peer's close (RFC 6455 §7.1.7).
    func fail(_ code: CloseCode, reason: String) {
        guard case .open = phase else {
            if case .closing = phase { closeTransport() }
            return
        }
        beginClosing(code: code, reason: reason)  // the timer: in case the peer never reads what is queued
        closeTransport()
    }

    /// Sends our close frame and waits, at most the close timeout, for the peer's answer.
    private func beginClosing(code: CloseCode, reason: String) {
        sendCloseFrame(code: code, reason: reason)
        closeCode = code
        closeReason = reason
        phase = .closing
        startCloseTimer()
    }

    private func sendCloseFrame(code: CloseCode?, reason: String) {
        var payload: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &payload) { bytes in
            let count = code.map { ClosePayload.write(into: bytes.baseAddress.unsafelyUnwrapped, code: $0, reason: reason) } ?? 0
            let body = UnsafeRawBufferPointer(rebasing: bytes[..<count])
            writeFrame(.close, body)
        }
    }

    private func startCloseTimer() {
        setTimer(afterMilliseconds: context.configuration.closeTimeoutMilliseconds)
    }

    /// Replaces the connection's timer (kept in its extras: only a client's handshake and a
    /// closing connection need one).
    func setTimer(afterMilliseconds milliseconds: Int64?) {
        if let timer = extras?.timer { loop.cancel(timer) }
        if let milliseconds {
            extrasForWriting.timer = loop.scheduleTimer(for: self, afterMilliseconds: milliseconds)
        } else {
            extras?.timer = nil
        }
    }

    /// The connection's one timer came due: the handshake or the close timeout ran out.
    /// Internal to the protocol.
    public final override func timerFired() {
        extras?.timer = nil
        switch phase {
        case .handshaking:
            closeReason = "handshake timed out"
            reset()
        case .closing:
            // The peer never finished the closing handshake (or never read our close): give up.
            reset()
        case .idle, .open, .closeAnswerDue, .closed:
            break
        }
    }

    /// The closing handshake is complete: the server closes TCP first (RFC 6455 §7.1.1); a
    /// client waits for it, within the close timeout.
    private func finishClosingHandshake() {
        guard context.role == .server else { return startCloseTimer() }
        closeTransport()
        // The TCP close waits for output the peer has not read yet. After the peer's close
        // no other timer is running (closing first starts one): without this one, a peer that
        // sent its close and stopped reading would hold the connection and its backlog forever.
        if case .closing = phase, extras?.timer == nil { startCloseTimer() }
    }

    // MARK: Receiving

    /// Parses frames in place from the loop's receive buffer and calls ``didReceive(_:kind:)``
    /// for each complete message. Internal to the protocol; override the callbacks instead.
    public final override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        if case .handshaking = phase, let upgrade = extras?.clientUpgrade {
            receiveHandshake(upgrade, bytes)
            return
        }
        lastInput = UInt32(truncatingIfNeeded: loop.now)
        awaitingPong = false
        parseFrames(bytes)
    }

    /// Lets the parser take RSV1 as the mark of a compressed message.
    func acceptCompressedMessages() {
        parser.acceptCompressedMessages()
    }

    func parseFrames(_ bytes: UnsafeMutableRawBufferPointer) {
        // The parser is copied out for the parse and stored back after: callbacks run in
        // between and must not see it half-updated, nor pay exclusivity checks per frame.
        var parser = self.parser
        var sink = Sink(socket: self)
        parsing = true
        let outcome = parser.parse(bytes, rules: context.frameRules, into: &sink)
        parsing = false
        self.parser = parser
        if case .closed = phase {
            self.parser.releaseBuffers()
            return
        }
        if case .failed(let error) = outcome {
            context.statistics.protocolErrors += 1
            context.logger.debug("protocol error", metadata: ["error": "\(error)", "code": "\(error.closeCode)"])
            fail(error.closeCode, reason: error.closeReason)
        }
    }

    /// Whether frames after the current one should still be looked at.
    private var keepsParsing: Bool {
        switch phase {
        case .open, .closing: isOpen
        case .idle, .handshaking, .closeAnswerDue, .closed: false
        }
    }

    fileprivate func receivedMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        // After our close frame, data from the peer is read and discarded (RFC 6455 §5.5.1).
        guard case .open = phase else { return keepsParsing }
        context.statistics.messagesReceived += 1
        context.statistics.bytesReceived += payload.count
        didReceive(RawSpan(_unsafeBytes: payload), kind: opcode == .text ? .text : .binary)
        return keepsParsing
    }

    fileprivate func receivedCompressedMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        guard case .open = phase else { return keepsParsing }
        switch inflateReceived(payload, text: opcode == .text) {
        case .message(let inflated):
            context.statistics.messagesReceived += 1
            context.statistics.bytesReceived += inflated.count
            didReceive(RawSpan(_unsafeBytes: inflated), kind: opcode == .text ? .text : .binary)
            context.compression.recycleInflated()
            return keepsParsing
        case .failed(let code, let reason):
            context.statistics.protocolErrors += 1
            context.logger.debug("bad compressed message", metadata: ["reason": "\(reason)", "code": "\(code)"])
            fail(code, reason: reason)
            return false
        }
    }

    fileprivate func receivedPing(_ payload: UnsafeRawBufferPointer) -> Bool {
        if case .open = phase { _ = sendFrame(.pong, payload) }
        return keepsParsing
    }

    fileprivate func receivedPong(_ payload: UnsafeRawBufferPointer) -> Bool {
        if case .open = phase { didReceivePong(RawSpan(_unsafeBytes: payload)) }
        return keepsParsing
    }

    fileprivate func receivedClose(code: CloseCode?, reason: UnsafeRawBufferPointer) -> Bool {
        switch phase {
        case .open:
            closeCode = code ?? .noStatusReceived
            closeReason = String(decoding: reason, as: UTF8.self)
            // Answering costs a send, which on loopback also runs the peer's side of TCP: when
            // thousands of clients close at once, a server answers a turn's worth per
            // iteration and the open connections are not held up behind the rest.
            if context.role == .server, !loop.takeHandshakeTurn() {
                phase = .closeAnswerDue
                didReceiveClose(code: code ?? .noStatusReceived, reason: closeReason)
                waitForHandshakeTurn()
            } else {
                sendCloseAnswer()
                didReceiveClose(code: code ?? .noStatusReceived, reason: closeReason)
                finishClosingHandshake()
            }
        case .closing:
            didReceiveClose(code: code ?? .noStatusReceived, reason: String(decoding: reason, as: UTF8.self))
            finishClosingHandshake()
        case .idle, .handshaking, .closeAnswerDue, .closed:
            break
        }
        return false
    }

    /// Answers the peer's close frame with the same code (an empty close when it sent none).
    private func sendCloseAnswer() {
        sendCloseFrame(code: closeCode == .noStatusReceived ? nil : closeCode, reason: "")
        phase = .closing
    }

    /// The close frame's answer waited for this turn. Internal to the protocol.
    public final override func handshakeTurn() {
        guard case .closeAnswerDue = phase else { return }
        sendCloseAnswer()
        finishClosingHandshake()
    }

    // MARK: TCP events

    /// The socket is open: a client sends its upgrade request, a server connection (whose
    /// upgrade response is already queued) opens and calls ``didOpen()``.
    public final override func connected() {
        switch phase {
        case .handshaking:
            if let upgrade = extras?.clientUpgrade { sendUpgradeRequest(upgrade) }
        case .idle:
            // Server side: the upgrade response is already on its way.
            opened()
        case .open, .closeAnswerDue, .closing, .closed:
            break
        }
    }

    func opened() {
        phase = .open
        lastInput = UInt32(truncatingIfNeeded: loop.now)
        context.statistics.connectionsOpened += 1
        context.keepalive?.connectionOpened()
        didOpen()
    }

    /// The peer sent FIN: after a closing handshake the normal end, otherwise 1006.
    public final override func endOfInput() {
        // Either the normal end after the closing handshake, or the peer vanished (1006).
        closeTransport()
    }

    /// The send buffer emptied: calls ``didDrain()``.
    public final override func writable() {
        didDrain()
    }

    /// The socket is closed: unsubscribes from every topic and calls
    /// ``didClose(code:reason:)`` once, with 1006 when no close frame was received.
    public final override func closed(_ reason: CloseReason) {
        let wasOpen: Bool
        switch phase {
        case .open, .closeAnswerDue, .closing: wasOpen = true
        case .idle, .handshaking, .closed: wasOpen = false
        }
        phase = .closed
        setTimer(afterMilliseconds: nil)
        if !parsing { parser.releaseBuffers() }
        context.unsubscribeAll(self)
        if wasOpen { context.statistics.connectionsClosed += 1 }
        if closeCode == nil, case .error(let code) = reason {
            let tlsFailure = (transport as? TLSTransport)?.failureReason
            closeReason = tlsFailure ?? SystemError("socket", code: code).description
        }
        let reason = closeReason
        releaseCompression()
        extras = nil
        didClose(code: closeCode ?? .abnormalClosure, reason: reason)
    }

    // MARK: Keepalive

    /// The keepalive sweep's visit to an open connection (see ``KeepaliveSweep``, which visits
    /// only those): closes an idle connection, pings a silent one, and drops one that stayed
    /// silent for two intervals (the ping unanswered).
    func keepaliveCheck(now: Int64) {
        let configuration = context.configuration
        let silence = Int64(UInt32(truncatingIfNeeded: now) &- lastInput)
        if configuration.idleTimeoutMilliseconds > 0, silence >= configuration.idleTimeoutMilliseconds {
            close(code: .goingAway, reason: "idle timeout")
            return
        }
        let interval = configuration.pingIntervalMilliseconds
        guard interval > 0, silence >= interval else { return }
        if !awaitingPong {
            awaitingPong = true
            _ = sendFrame(.ping, UnsafeRawBufferPointer(start: nil, count: 0))
        } else if silence >= 2 * interval {
            // A ping sent at least three quarters of an interval ago, and no answer: the peer is gone.
            closeReason = "no answer to ping"
            reset()
        }
    }
}

/// Which limit refused a send.
enum BackpressureRefusal {
    /// The connection's own queue (``WebSocketConfiguration/maxBufferedAmount``).
    case connectionLimit
    /// The loop's share of ``WebSocketConfiguration/maxOutboundMemory``.
    case processLimit
}

/// The rarely needed state of a connection.
final class ConnectionExtras {
    /// The one timer a connection needs at a time: the client's handshake timeout or the
    /// close timeout while closing (see `timerFired`). Pings and the idle timeout of open
    /// connections are their context's ``KeepaliveSweep``'s.
    var timer: TimerHandle?
    /// The client's HTTP upgrade while its phase is `handshaking`.
    var clientUpgrade: ClientUpgrade?
    var closeReason = ""
    var subprotocol: String?
    /// The zlib state of a connection with context takeover.
    var deflate: ConnectionDeflate?
}

extension WebSocket {
    /// The reason `didClose` reports (ours, or the peer's).
    var closeReason: String {
        get { extras?.closeReason ?? "" }
        set { extrasForWriting.closeReason = newValue }
    }

    var extrasForWriting: ConnectionExtras {
        if let extras { return extras }
        let created = ConnectionExtras()
        extras = created
        return created
    }
}

/// Forwards what the parser finds to the connection. Made once per read, by the connection
/// itself in `parseFrames`, which its caller keeps alive throughout: the reference is
/// unmanaged and used as guaranteed, sparing a retain and a release per read (a strong or
/// `unowned(unsafe)` field cost one pair per read or per frame).
private struct Sink: FrameSink {
    let socket: Unmanaged<WebSocket>

    init(socket: WebSocket) {
        self.socket = Unmanaged.passUnretained(socket)
    }

    mutating func message(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        socket._withUnsafeGuaranteedRef { $0.receivedMessage(opcode, payload) }
    }

    mutating func compressedMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        socket._withUnsafeGuaranteedRef { $0.receivedCompressedMessage(opcode, payload) }
    }

    mutating func ping(_ payload: UnsafeRawBufferPointer) -> Bool {
        socket._withUnsafeGuaranteedRef { $0.receivedPing(payload) }
    }

    mutating func pong(_ payload: UnsafeRawBufferPointer) -> Bool {
        socket._withUnsafeGuaranteedRef { $0.receivedPong(payload) }
    }

    mutating func close(code: CloseCode?, reason: UnsafeRawBufferPointer) -> Bool {
        socket._withUnsafeGuaranteedRef { $0.receivedClose(code: code, reason: reason) }
    }
}

extension ProtocolError {
    /// A short reason for the close frame that fails the connection.
    var closeReason: String {
        switch self {
        case .invalidUTF8: "invalid UTF-8 in text message"
        case .invalidCloseReason: "invalid UTF-8 in close reason"
        case .frameTooBig: "frame too big"
        case .messageTooBig: "message too big"
        default: "protocol error"
        }
    }
}
