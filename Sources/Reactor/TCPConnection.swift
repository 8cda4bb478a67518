import CEpollShim

#if canImport(Glibc)
import Glibc
#endif

/// Why a connection closed.
public enum CloseReason: Sendable, Equatable {
    /// `close()` or `reset()` was called on this side.
    case local
    /// The peer closed its side (end of input) and the connection did not stay half-open.
    case endOfInput
    /// A socket error, with its `errno` (e.g. `ECONNRESET`, `EPIPE`, `ECONNREFUSED`).
    case error(Int32)
    /// The loop shut down while the connection was open.
    case loopStopped
}

/// A non-blocking TCP connection on an event loop.
///
/// Subclass it and override the callbacks: `connected()`, `received(_:)`, `endOfInput()`,
/// `writable()` and `closed(_:)`. They all run on the loop's thread.
///
/// Writes never block. What the kernel does not take at once is copied into a send buffer
/// borrowed from the loop's pool, flushed when the socket is writable again, and returned
/// when empty. Writes made while the connection handles its own input are *corked*: gathered
/// in the loop's cork buffer and sent with one system call when the callback returns.
///
/// Bytes reach the socket directly, or through a ``SocketTransport`` (e.g. TLS) when
/// ``transport`` is set.
///
/// Properties used on every message are `@exclusivity(unchecked)`, here and in the other
/// loop-confined types: they are touched only on the loop's thread and never by overlapping
/// accesses, so the runtime's dynamic exclusivity checks (measured at a fifth of the CPU per
/// echoed message) buy nothing.
open class TCPConnection: Selectable, @unchecked Sendable {
    @usableFromInline
    enum State: UInt8 {
        /// An outbound connect is in progress.
        case connecting
        /// The transport's handshake is in progress; writes wait in the send buffer.
        case handshaking
        case open
        /// `close()` was called while output was pending; the descriptor closes once sent.
        case closingAfterFlush
        case closed
    }

    private struct Flags: OptionSet {
        let rawValue: UInt8
        /// The peer sent FIN and we have read it: no more reads.
        static let inputClosed = Flags(rawValue: 1 << 0)
        /// epoll reported that the peer closed (or failed); its FIN may still be unread.
        static let peerHasClosed = Flags(rawValue: 1 << 1)
        /// `shutdownOutput()` was called; FIN goes out once pending output is sent.
        static let outputShutdownRequested = Flags(rawValue: 1 << 2)
        /// Waiting on the ready list for a handshake turn (`waitForHandshakeTurn()`).
        static let waitsForTurn = Flags(rawValue: 1 << 3)
    }

    // `@exclusivity(unchecked)`: see the type's documentation.
    // `@usableFromInline`: read by the inlinable queries on the send path (`isOpen`).
    @usableFromInline @exclusivity(unchecked)
    final var state = State.closed
    /// Four yes-or-no states in one byte: with `state` they fill the end of `Selectable`'s
    /// fields, so the send queue starts at the next 8-byte boundary.
    @exclusivity(unchecked)
    private var flags = Flags()
    /// Output the kernel has not taken yet: owned copies and shared ranges, in order.
    @usableFromInline @exclusivity(unchecked)
    final var sendQueue = SendQueue()
    /// What the socket's bytes pass through; nil for the plain socket, whose system calls are
    /// made inline. Set it before the connection is adopted or connects.
    @exclusivity(unchecked)
    public final var transport: SocketTransport?

    /// Creates an unconnected connection on `loop`. A listener's factory returns one for each
    /// accepted socket; a client calls `connect(to:from:)` on it.
    public override init(loop: EventLoop) {
        super.init(loop: loop)
    }

    // MARK: Callbacks for subclasses

    /// The connection is open: accepted, or an outbound connect completed.
    open func connected() {}

    /// Bytes arrived. `bytes` points into the loop's shared receive buffer: valid only during
    /// this call, and writable, so a parser may transform it in place.
    open func received(_ bytes: UnsafeMutableRawBufferPointer) {}

    /// The turn asked for with ``waitForHandshakeTurn()`` has come.
    open func handshakeTurn() {}

    /// The peer shut down its sending side. The default closes the connection.
    open func endOfInput() {
        closeTransport()
    }

    /// The send buffer, which had filled up, has drained completely.
    open func writable() {}

    /// The connection closed; the descriptor is gone. Called exactly once.
    open func closed(_ reason: CloseReason) {}

    // MARK: State

    /// True from `connected()` until `close()` or a failure.
    @inlinable
    public final var isOpen: Bool { state == .open }

    /// Bytes accepted by `write` that the kernel has not taken yet, whether copied or
    /// referred to in a ``SharedBuffer``.
    public var bufferedAmount: Int {
        sendQueue.count + (isCorked ? loop.corkCount : 0)
    }

    /// The part of ``bufferedAmount`` that the kernel refused and that waits in the send
    /// queue: a backlog, unlike corked bytes, which leave when the input callback returns.
    public var queuedAmount: Int {
        sendQueue.count
    }

    /// Whether bytes wait in the send queue (``queuedAmount`` above 0): asked before every
    /// send, so inlined into the caller.
    @inlinable
    public final var hasQueuedOutput: Bool { !sendQueue.isEmpty }

    /// True while this connection handles its input and its writes gather in the cork buffer.
    private var isCorked: Bool {
        loop.corkOwner == ObjectIdentifier(self)
    }

    /// Output accepted but not yet taken by the kernel, in the send buffer or the transport.
    /// Checked on every writable event: inline, and the plain socket tests only for nil.
    @inline(__always)
    private var hasPendingOutput: Bool {
        !sendQueue.isEmpty || (transport != nil && transportHasBufferedOutput)
    }

    @inline(never)
    private var transportHasBufferedOutput: Bool {
        transport?.hasBufferedOutput == true
    }

    // MARK: Writing

    /// Sends bytes, in order with earlier writes.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        write(bytes, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Sends two pieces of bytes back to back, e.g. a frame header and its payload, without
    /// joining them first.
    public func write(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) {
        switch state {
        case .open: break
        case .connecting, .handshaking: return enqueue(first, second)
        case .closingAfterFlush, .closed: return
        }
        // Behind bytes already waiting, in order.
        if !sendQueue.isEmpty { return enqueue(first, second) }
        if isCorked {
            if first.count + second.count <= loop.options.corkBufferSize - loop.corkCount {
                appendToCork(first)
                appendToCork(second)
                return
            }
            flushCork()
            guard state == .open else { return }
            if !sendQueue.isEmpty { return enqueue(first, second) }
        }
        sendDirectly(first, second)
    }

    /// Copies both pieces into the send queue, to go out when the socket is writable.
    private func enqueue(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) {
        sendQueue.append(first, pool: loop.pool, memory: loop.outboundMemory)
        sendQueue.append(second, pool: loop.pool, memory: loop.outboundMemory)
    }

    /// Sends bytes `start..<end` of a buffer shared with other connections (by default all
    /// of it), in order with earlier writes. What the kernel does not take at once is queued
    /// as a reference into `buffer`, not copied: a message published to many connections
    /// costs its size once, however many of them are slow.
    ///
    /// While this connection handles its input, a small range is copied into the cork
    /// buffer instead, which is cheaper than a reference and leaves with the other replies.
    public func write(_ buffer: SharedBuffer, from start: Int = 0, to end: Int? = nil) {
        let end = end ?? buffer.count
        precondition(start >= 0 && start <= end && end <= buffer.count, "a range outside the shared buffer")
        guard start < end else { return }
        switch state {
        case .open: break
        case .connecting, .handshaking: return sendQueue.append(buffer, from: start, to: end)
        case .closingAfterFlush, .closed: return
        }
        if isCorked {
            let bytes = buffer.bytes(start, end)
            if sendQueue.isEmpty, bytes.count <= Self.sharedBytesCopiedToCork, bytes.count <= loop.options.corkBufferSize - loop.corkCount {
                return appendToCork(bytes)
            }
            flushCork()
            guard state == .open else { return }
        }
        if !sendQueue.isEmpty { return sendQueue.append(buffer, from: start, to: end) }
        sendSharedDirectly(buffer, from: start, to: end)
    }

    /// Up to this size a shared range written while corked is copied into the cork buffer.
    private static let sharedBytesCopiedToCork = 16 * 1024

    /// One send of a shared range; whatever the kernel leaves stays queued by reference.
    private func sendSharedDirectly(_ buffer: SharedBuffer, from start: Int, to end: Int) {
        let bytes = buffer.bytes(start, end)
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        var written: Int
        let code: Int32
        if let transport {
            written = transport.send(to: fd, bytes, none)
            code = Int32(truncatingIfNeeded: -written)
        } else {
            written = sendPieces(fd, bytes, none)
            code = written < 0 ? pw_errno() : 0
        }
        if written < 0 {
            guard code == EAGAIN || code == EWOULDBLOCK else {
                closeNow(.error(code))
                return
            }
            written = 0
        }
        if start + written < end { sendQueue.append(buffer, from: start + written, to: end) }
    }

    /// Writes `count` bytes that `fill` produces in place (e.g. a frame masked on the way),
    /// sparing a separate buffer: they are built in the loop's cork buffer when it has room.
    ///
    /// Inlinable, so that a caller's `fill` is compiled into its own code: a WebSocket writes
    /// every small frame through here, and a closure called through a context per frame cost
    /// more than the frame's encoding.
    @inlinable
    public final func write(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
        if let start = reserveInCork(count) {
            fill(start)
        } else {
            writeUncorked(count: count, fill)
        }
    }

    /// The common case of `write(count:_:)`: this connection is corked with room in the cork
    /// buffer and nothing queued before it. Reserves `count` bytes there and returns where;
    /// the caller writes exactly that many. Nil otherwise: use `write(count:_:)`.
    @usableFromInline
    package final func reserveInCork(_ count: Int) -> UnsafeMutableRawPointer? {
        guard count > 0, isCorked, sendQueue.isEmpty, state == .open,
              count <= loop.options.corkBufferSize - loop.corkCount else { return nil }
        let start = loop.corkBuffer + loop.corkCount
        loop.corkCount += count
        return start
    }

    /// The rest of `write(count:_:)`: a full cork, a connection not corked or with a backlog.
    @usableFromInline
    final func writeUncorked(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
        guard count > 0 else { return }
        if isCorked, count > loop.options.corkBufferSize - loop.corkCount, count <= loop.options.corkBufferSize {
            // Our own corked bytes fill the buffer: send them, and build this write in its room.
            flushCork()
            guard state == .open else { return }
            if let start = reserveInCork(count) {
                fill(start)
                return
            }
        }
        if count <= loop.options.corkBufferSize - loop.corkCount {
            // Scratch space past whatever is corked (another connection's, or ours behind a backlog).
            let start = loop.corkBuffer + loop.corkCount
            fill(start)
            write(UnsafeRawBufferPointer(start: start, count: count))
            return
        }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
        defer { scratch.deallocate() }
        fill(scratch)
        write(UnsafeRawBufferPointer(start: scratch, count: count))
    }

    private func appendToCork(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        (loop.corkBuffer + loop.corkCount).copyMemory(from: base, byteCount: bytes.count)
        loop.corkCount += bytes.count
    }

    /// One `sendmsg` of both pieces; whatever the kernel leaves goes to the send buffer.
    private func sendDirectly(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) {
        // One nil test, then each path compiled on its own: the plain socket's code is what
        // it was before the seam (no retain of the transport, no extra live registers).
        if transport == nil {
            let written = sendPieces(fd, first, second)
            finishSend(first, second, written: written, error: written < 0 ? pw_errno() : 0)
        } else {
            sendThroughTransport(first, second)
        }
    }

    @inline(never)
    private func sendThroughTransport(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) {
        guard let transport else { return }
        let written = transport.send(to: fd, first, second)
        finishSend(first, second, written: written, error: Int32(truncatingIfNeeded: -written))
    }

    /// Keeps what the kernel did not take; `error` is the `errno` when `written` is negative.
    @inline(__always)
    private func finishSend(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, written: Int, error code: Int32) {
        var written = written
        if written < 0 {
            guard code == EAGAIN || code == EWOULDBLOCK else {
                closeNow(.error(code))
                return
            }
            written = 0
        }
        if written < first.count {
            enqueue(UnsafeRawBufferPointer(rebasing: first[written...]), second)
        } else if written < first.count + second.count {
            sendQueue.append(UnsafeRawBufferPointer(rebasing: second[(written - first.count)...]), pool: loop.pool, memory: loop.outboundMemory)
        }
    }

    /// Runs `body` with this connection's writes corked, as they are while it handles its
    /// input: gathered in the loop's cork buffer and sent with one system call when `body`
    /// returns (or each time the buffer fills). For many small writes made outside an input
    /// callback, from a task or a timer, which would otherwise cost a system call each.
    ///
    /// Inside an input callback (this connection's or another's, whose bytes the cork buffer
    /// holds) `body` simply runs: writes then take the usual path.
    public func withWritesCorked<Result>(_ body: () throws -> Result) rethrows -> Result {
        guard loop.corkOwner == nil, state == .open else { return try body() }
        loop.corkOwner = ObjectIdentifier(self)
        defer {
            // `body` may have closed the connection (a failed write): `closeNow` emptied the
            // cork buffer then, and there is nothing to flush.
            loop.corkOwner = nil
            if state == .open || state == .closingAfterFlush { flushCork() }
            if state == .closingAfterFlush, !hasPendingOutput { finishClosing() }
        }
        return try body()
    }

    /// Sends what this connection gathered in the loop's cork buffer.
    private func flushCork() {
        let count = loop.corkCount
        loop.corkCount = 0
        guard count > 0 else { return }
        sendDirectly(UnsafeRawBufferPointer(start: loop.corkBuffer, count: count), UnsafeRawBufferPointer(start: nil, count: 0))
    }

    // MARK: The socket's bytes

    // Reads and writes test for a transport once and then run a path of their own: the
    // system call inline for the plain socket, so its path stays as it was, or the transport.

    /// The `errno` of a failed read or write: a transport returns it negated, the system
    /// calls leave it in `errno`. Call it before anything else can change `errno`.
    @inline(__always)
    private func errorCode(of result: Int) -> Int32 {
        transport == nil ? pw_errno() : Int32(truncatingIfNeeded: -result)
    }

    /// Sends FIN once all output is out, after the transport's own goodbye.
    private func sendEndOfOutput() {
        transport?.shutdown(on: fd)
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    /// A graceful close with nothing left to send: the transport says goodbye, then the
    /// descriptor closes. Out of line: rare, and it would bloat `deliver`.
    @inline(never)
    private func finishClosing() {
        transport?.shutdown(on: fd)
        closeNow(.local)
    }

    /// Writes what the transport holds; false while some is left (or the connection failed).
    private func flushTransport() -> Bool {
        guard let transport, transport.hasBufferedOutput else { return true }
        let result = transport.flush(to: fd)
        if result < 0, result != -Int(EAGAIN), result != -Int(EWOULDBLOCK) {
            closeNow(.error(Int32(-result)))
            return false
        }
        return !transport.hasBufferedOutput
    }

    /// Writes the pending output until it is all out or the socket is full.
    private func flushSendBuffer() {
        let hadBytes = hasPendingOutput
        guard flushTransport() else { return }
        while !sendQueue.isEmpty {
            let result = sendQueued()
            if result < 0 {
                let code = errorCode(of: result)
                if code != EAGAIN, code != EWOULDBLOCK { closeNow(.error(code)) }
                return
            }
            sendQueue.consume(result, pool: loop.pool, memory: loop.outboundMemory)
            if result == 0 || transport?.hasBufferedOutput == true { return }
        }
        outputDrained(hadBytes: hadBytes)
    }

    /// One system call's worth of the queue: as many pieces as `sendVectors` holds for the
    /// plain socket, the two oldest segments for a transport (which encrypts only what the
    /// socket takes, straight from shared buffers). Returns a count, or -1/`-errno`.
    private func sendQueued() -> Int {
        if let transport {
            let (first, second) = sendQueue.frontSegments
            return transport.send(to: fd, first, second)
        }
        let vectors = loop.sendVectors
        let vectorCount = Int32(sendQueue.gather(into: vectors, capacity: EventLoop.sendVectorCount))
        return retryingInterrupts { pw_sendv(fd, vectors, vectorCount) }
    }

    /// Everything written has gone out: finish what waited for it.
    private func outputDrained(hadBytes: Bool) {
        switch state {
        case .closingAfterFlush:
            finishClosing()
        case .open:
            if flags.contains(.outputShutdownRequested) { sendEndOfOutput() }
            if hadBytes { writable() }
        case .connecting, .handshaking, .closed:
            break
        }
    }

    // MARK: Closing

    /// Closes the connection once the output already written has been sent. Subclasses that
    /// speak a protocol with its own goodbye (a WebSocket close frame) override it.
    open func close() {
        closeTransport()
    }

    /// Closes the socket once pending output is sent: `close()` without any protocol goodbye.
    public func closeTransport() {
        switch state {
        case .connecting, .handshaking:
            closeNow(.local)
        case .open:
            if isCorked { flushCork() }
            guard state == .open else { return }
            if hasPendingOutput {
                state = .closingAfterFlush
            } else {
                finishClosing()
            }
        case .closingAfterFlush, .closed:
            return
        }
    }

    /// Closes at once, dropping unsent output, with a TCP reset (`SO_LINGER` 0).
    public func reset() {
        guard state != .closed else { return }
        _ = pw_set_linger(fd, 1, 0)
        closeNow(.local)
    }

    /// Half-closes: sends FIN after the pending output; input keeps arriving.
    public func shutdownOutput() {
        guard state == .open else { return }
        if isCorked { flushCork() }
        flags.insert(.outputShutdownRequested)
        if !hasPendingOutput { sendEndOfOutput() }
    }

    func closeNow(_ reason: CloseReason) {
        guard state != .closed else { return }
        // Outbound connections count once connected; accepted ones from the start.
        let wasCounted = state != .connecting
        state = .closed
        flags.remove(.waitsForTurn)
        if isCorked { loop.corkCount = 0 }
        let descriptor = fd
        loop.forget(self)
        loop.closeSocket(descriptor)
        sendQueue.release(pool: loop.pool, memory: loop.outboundMemory)
        if wasCounted { loop.connectionCount -= 1 }
        closed(reason)
    }

    /// The loop is shutting down: the connection closes at once, with `.loopStopped`.
    open override func loopWillClose() {
        closeNow(.loopStopped)
    }

    // MARK: Events

    /// Takes ownership of an accepted, non-blocking socket.
    func adopt(fd: Int32) throws {
        try loop.register(self, fd: fd, events: [.readable, .writable, .peerClosed])
        loop.connectionCount += 1
        if transport == nil {
            state = .open
            connected()
        } else {
            state = .handshaking
            continueHandshake()
        }
    }

    /// Drives the transport's handshake; once complete the connection opens, sends what was
    /// written meanwhile and reads what came with the handshake.
    private func continueHandshake() {
        switch transport?.handshake(on: fd) ?? .complete {
        case .pending:
            return
        case .yielded:
            // Called again from the ready list (with `.readable`, which leads back here).
            loop.markReady(self)
        case .failed(let code):
            closeNow(.error(code))
        case .complete:
            state = .open
            connected()
            if state == .open, hasPendingOutput { flushSendBuffer() }
            if state == .open { readAvailable() }
        }
    }

    /// Drives the connection from its socket's events: finishes a connect or a transport
    /// handshake, flushes pending output when writable, and reads until `EAGAIN` (or the
    /// per-iteration budget) when readable. Subclasses override the callbacks, not this.
    open override func handleEvents(_ events: IOEvents) {
        // Remembered whatever this event leads to (a read now, or one after a handshake turn):
        // edge-triggered epoll does not report the peer's FIN again, so the read must go on
        // to the end of input instead of stopping at a short read.
        if !events.isDisjoint(with: [.peerClosed, .hangUp, .error]) { flags.insert(.peerHasClosed) }
        if flags.contains(.waitsForTurn) { return takeWaitedTurn() }
        switch state {
        case .connecting: return finishConnect()
        case .handshaking: return continueHandshake()
        case .open, .closingAfterFlush, .closed: break
        }
        if events.contains(.writable), hasPendingOutput {
            flushSendBuffer()
        }
        if state == .open, !flags.contains(.inputClosed), !events.isDisjoint(with: [.readable, .peerClosed, .hangUp, .error]) {
            readAvailable()
        }
    }

    /// Puts off work that costs as much as a handshake (e.g. answering a close: a send, which
    /// on loopback also runs the peer's side of TCP) until the loop has a turn for it (see
    /// `EventLoop.Options.handshakesPerIteration`): ``handshakeTurn()`` is called then, from
    /// the ready list. Events that arrive meanwhile wait too: after the turn the connection
    /// sends what is pending and reads what is there, as if told it was readable and writable.
    public final func waitForHandshakeTurn() {
        flags.insert(.waitsForTurn)
        loop.markReady(self)
    }

    private func takeWaitedTurn() {
        guard loop.takeHandshakeTurn() else { return loop.markReady(self) }
        flags.remove(.waitsForTurn)
        handshakeTurn()
        handleEvents([.readable, .writable])
    }

    /// Reads until the socket is drained, or until this connection has had its share for
    /// this iteration (then it goes on the ready list, so others are not starved).
    private func readAvailable() {
        // The nil test once, not per read, and a loop compiled for each case (see `sendDirectly`).
        if transport == nil {
            readLoop { fd, buffer in
                let count = pw_read(fd, buffer.baseAddress, buffer.count)
                return count >= 0 ? count : -Int(pw_errno())
            }
        } else {
            readThroughTransport()
        }
    }

    @inline(never)
    private func readThroughTransport() {
        guard let transport else { return }
        readLoop { transport.receive(from: $0, into: $1) }
    }

    /// The read loop; `readOnce` returns a count, 0 at the end of input, or `-errno`.
    @inline(__always)
    private func readLoop(_ readOnce: (Int32, UnsafeMutableRawBufferPointer) -> Int) {
        let buffer = loop.receiveBuffer
        var reads = 0
        while state == .open {
            let count = readOnce(fd, buffer)
            if count > 0 {
                deliver(UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]))
                // A short read means the socket was drained; edge-triggering reports new data.
                // When the peer has closed, its FIN may have come with this data in the same
                // edge: read on to the end of input instead of stopping at a short read.
                if count < buffer.count, !flags.contains(.peerHasClosed), transport?.hasBufferedInput != true { return }
                reads += 1
                if reads >= loop.options.readsPerIteration {
                    loop.markReady(self)
                    return
                }
            } else if count == 0 {
                flags.insert(.inputClosed)
                endOfInput()
                return
            } else {
                let code = Int32(truncatingIfNeeded: -count)
                switch code {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return
                default:
                    closeNow(.error(code))
                    return
                }
            }
        }
    }

    /// Hands input to `received` with writes corked, then sends them with one call.
    private func deliver(_ bytes: UnsafeMutableRawBufferPointer) {
        loop.corkOwner = ObjectIdentifier(self)
        received(bytes)
        loop.corkOwner = nil
        if state == .open || state == .closingAfterFlush { flushCork() }
        if state == .closingAfterFlush, !hasPendingOutput { finishClosing() }
    }

    // MARK: Handing over

    /// Moves this open connection's socket, registration and unsent output to `successor`,
    /// which takes over as if it had been accepted (its `connected()` is called), e.g. when
    /// a protocol upgrade turns an HTTP exchange into a connection of another kind. This
    /// object ends without `closed(_:)` being called. `pendingInput` (bytes this object read
    /// but that belong to the successor) is delivered to it right away.
    public func handOver(to successor: TCPConnection, pendingInput: UnsafeMutableRawBufferPointer? = nil) {
        precondition(state == .open && successor.state == .closed && successor.fd < 0, "handOver needs an open connection and an unused successor")
        if isCorked { flushCork() }
        guard state == .open else { return }
        loop.replaceRegistration(of: self, with: successor)
        successor.sendQueue = sendQueue
        successor.transport = transport
        successor.flags = flags.intersection([.inputClosed, .peerHasClosed])
        successor.state = .open
        sendQueue = SendQueue()
        transport = nil
        state = .closed
        fd = -1
        successor.connected()
        if let pendingInput, pendingInput.count > 0, successor.state == .open {
            successor.deliver(pendingInput)
        }
        // This object may have stopped reading mid-stream; edge-triggering will not report
        // those bytes again, so the successor looks once more on the next iteration.
        loop.markReady(successor)
    }

    // MARK: Outbound

    /// Starts a non-blocking connect; `connected()` or `closed(.error(...))` follows.
    /// `localAddress` binds the source address first (to spread many connections over
    /// several local addresses).
    public func connect(to address: SocketAddress, from localAddress: SocketAddress? = nil) throws {
        precondition(state == .closed && fd < 0, "connect on a connection already in use")
        let socket = pw_tcp_socket(address.family)
        guard socket >= 0 else { throw SystemError("socket") }
        _ = pw_set_nodelay(socket, 1)
        if let localAddress {
            // The port is chosen at connect, per destination: see the shim's comment.
            if localAddress.port == 0 { _ = pw_set_bind_address_no_port(socket, 1) }
            let bound = localAddress.withSockAddr { bind(socket, $0, $1) }
            guard bound == 0 else {
                let error = SystemError("bind")
                closeDescriptor(socket)
                throw error
            }
        }
        let result = address.withSockAddr { Glibc.connect(socket, $0, $1) }
        if result != 0, pw_errno() != EINPROGRESS {
            let error = SystemError("connect")
            closeDescriptor(socket)
            throw error
        }
        do {
            try loop.register(self, fd: socket, events: [.readable, .writable, .peerClosed])
        } catch {
            closeDescriptor(socket)
            throw error
        }
        state = .connecting
    }

    private func finishConnect() {
        let error = pw_socket_error(fd)
        guard error == 0 else {
            closeNow(.error(error < 0 ? pw_errno() : error))
            return
        }
        loop.connectionCount += 1
        guard transport == nil else {
            state = .handshaking
            return continueHandshake()
        }
        state = .open
        connected()
        if state == .open, !sendQueue.isEmpty { flushSendBuffer() }
        // Data may have arrived together with the connect completion.
        if state == .open { readAvailable() }
    }
}
