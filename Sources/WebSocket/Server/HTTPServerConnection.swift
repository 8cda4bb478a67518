import HTTP
import Reactor
import TLS

/// A server connection while it speaks HTTP: reads requests (heads and bodies, bounded in
/// size and time), asks the router about each, in the order they came, and answers them on
/// the same connection while it is kept alive; or sends 101 and hands the socket over to the
/// WebSocket the route creates. This object, and any partial request in it, are gone after
/// the upgrade.
///
/// Pipelined requests are answered as they are parsed: the router is synchronous, so the
/// answers go out in order, and only one partial request is ever held. A client that
/// pipelines without reading its answers is cut off once they pass `maxBufferedAmount`.
final class HTTPServerConnection: TCPConnection, @unchecked Sendable {
    /// What the connection waits for, and so what its one timer means.
    private enum Phase {
        /// Between requests on a kept-alive connection: the keep-alive timer runs, and closes
        /// the connection quietly.
        case idle
        /// A request has begun, or the connection is new: the request timer runs (408).
        case receiving
        /// The last answer is written and the connection closes once it is sent (or it was
        /// handed over): input is ignored.
        case finished
    }

    /// Whether to read on after a request was answered.
    private enum Next {
        case nextRequest
        case stop
    }

    let endpoint: ServerEndpoint
    private var reader: HTTPRequestReader
    private var phase = Phase.receiving
    private var timeout: TimerHandle?
    /// Until its first request is complete the connection is part of a handshake: its events
    /// take the loop's handshake turns (`EventLoop.takeHandshakeTurn`).
    private var awaitsFirstRequest = true
    /// The events of a turn that was deferred, handled with the next ones.
    private var deferredEvents: IOEvents = []

    init(endpoint: ServerEndpoint) {
        self.endpoint = endpoint
        let configuration = endpoint.context.configuration
        reader = HTTPRequestReader(
            maxHeaderBytes: configuration.maxRequestHeadBytes, maxBodyBytes: configuration.http.maxRequestBodyBytes)
        super.init(loop: endpoint.context.loop)
    }

    private var configuration: WebSocketConfiguration { endpoint.context.configuration }

    override func connected() {
        if endpoint.isDraining {
            refuse(503, "server shutting down")
            return
        }
        if endpoint.isOverCapacity {
            refuse(503, "too many connections")
            return
        }
        // Over TLS the timer has run since accept: the handshake and the request share it.
        if timeout == nil { schedule(.receiving) }
    }

    /// Starts the request timer before the connection opens, so that it bounds the
    /// transport's handshake too (a client that never finishes it is closed).
    func startHandshakeTimer() {
        schedule(.receiving)
    }

    override func timerFired() {
        timeout = nil
        switch phase {
        case .idle:
            phase = .finished
            closeTransport()
        case .receiving where !isOpen:
            // Still in the TLS handshake: no HTTP to answer with.
            phase = .finished
            closeTransport()
        case .receiving:
            refuse(408, "request timeout")
        case .finished:
            break
        }
    }

    override func handleEvents(_ events: IOEvents) {
        guard awaitsFirstRequest else { return super.handleEvents(events) }
        // Edge-triggered: these events will not be reported again, so a deferred turn keeps
        // them (the ready list calls back with `.readable` alone, e.g. without a peer's FIN).
        let events = events.union(deferredEvents)
        guard loop.takeHandshakeTurn() else {
            deferredEvents = events
            loop.markReady(self)
            return
        }
        deferredEvents = []
        super.handleEvents(events)
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while phase != .finished, offset < bytes.count {
            switch reader.read(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMore:
                offset = bytes.count
            case .failed(let status):
                refuse(status, status.reasonPhrase)
            case .complete(let request, let consumed):
                awaitsFirstRequest = false
                offset += consumed
                cancelTimeout()
                let rest = UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])
                if case .stop = answer(request, pendingInput: rest) { return }
            }
        }
        guard phase != .finished else { return }
        if reader.takeContinueRequest() {
            write(HTTPResponse.continueHead)
        }
        rearmTimer()
    }

    override func closed(_ reason: CloseReason) {
        phase = .finished
        cancelTimeout()
    }

    /// Closes the connection if it waits between requests; one with a request in progress
    /// is answered 503 when the request is complete. Called when the server drains.
    func closeIfIdle() {
        guard phase == .idle else { return }
        phase = .finished
        cancelTimeout()
        closeTransport()
    }

    // MARK: Answering

    private func answer(_ request: HTTPRequest, pendingInput: UnsafeMutableRawBufferPointer) -> Next {
        if endpoint.isDraining {
            refuse(503, "server shutting down")
            return .stop
        }
        let head = request.head
        var serverRequest = ServerRequest(head: head, body: request.body, context: endpoint.context)
        if let tls = transport as? TLSTransport {
            serverRequest.isSecure = true
            serverRequest.peerCertificateSubject = tls.peerCertificateSubject
        }
        switch endpoint.router(serverRequest) {
        case .http(let status, let headers, let body):
            return send(status, headers: headers, body: body, to: head)
        case .upgrade(let subprotocol, let makeSocket):
            upgrade(head, subprotocol: subprotocol, makeSocket: makeSocket, pendingInput: pendingInput)
            return .stop
        }
    }

    private func send(_ status: HTTPStatus, headers: [(name: String, value: String)], body: [UInt8], to head: HTTPRequestHead) -> Next {
        let close = !keepsAlive(head) || HTTPHeaderLookup.hasToken("close", in: "Connection", fields: headers)
        write(HTTPResponse.make(
            status: status, headers: headers, body: body, close: close,
            keepAlive: head.version < .http1_1, includeBody: head.method != "HEAD"))
        if close {
            finish()
            return .stop
        }
        if bufferedAmount > configuration.maxBufferedAmount {
            // Pipelining without reading the answers: they would pile up without bound.
            phase = .finished
            reset()
            return .stop
        }
        return .nextRequest
    }

    /// Whether the connection stays open after answering `head` (RFC 9112 §9.3): by default
    /// in HTTP/1.1, only on request in HTTP/1.0, never after `Connection: close`. An upgrade
    /// the route answered over HTTP (refused it) closes too: WebSocket clients wait for that.
    private func keepsAlive(_ head: HTTPRequestHead) -> Bool {
        guard configuration.http.keepAliveTimeoutMilliseconds > 0, !head.hasToken("close", in: "Connection"),
            head.values("Upgrade").isEmpty
        else { return false }
        return head.version >= .http1_1 || head.hasToken("keep-alive", in: "Connection")
    }

    private func upgrade(
        _ head: HTTPRequestHead, subprotocol: String?, makeSocket: (WebSocketContext) -> WebSocket,
        pendingInput: UnsafeMutableRawBufferPointer
    ) {
        switch UpgradeRequest.validate(head) {
        case .failure(let rejection):
            endpoint.recordRejection(rejection.status, rejection.message)
            write(rejection.response)
            finish()
        case .success(let key):
            let offered = subprotocol.map { head.requestedSubprotocols.contains($0) } ?? true
            let socket = makeSocket(endpoint.context)
            let extensions = negotiateCompression(head, for: socket).map { [("Sec-WebSocket-Extensions", $0)] } ?? []
            write(HTTPResponse.switchingProtocols(
                accept: Handshake.acceptValue(forKey: key), subprotocol: offered ? subprotocol : nil,
                extraHeaders: extensions))
            phase = .finished
            handOver(to: socket, pendingInput: pendingInput)
        }
    }

    /// Accepts the first permessage-deflate offer the configuration can satisfy, across all
    /// `Sec-WebSocket-Extensions` lines, and sets `socket` up for it; the response's header
    /// value, or nil to decline every offer.
    private func negotiateCompression(_ head: HTTPRequestHead, for socket: WebSocket) -> String? {
        let offers = head.values("Sec-WebSocket-Extensions")
        guard !offers.isEmpty,
            let agreement = DeflateServerNegotiation.accept(offersIn: offers.joined(separator: ", "), configuration: configuration.deflate),
            socket.enableCompression(agreement.parameters)
        else { return nil }
        return agreement.responseHeaderValue
    }

    /// Answers with an error and closes: the request could not be read, timed out, or the
    /// server does not take it.
    private func refuse(_ status: HTTPStatus, _ message: String) {
        endpoint.recordRejection(status, message)
        write(HTTPResponse.plainText(status: status, message))
        finish()
    }

    /// Closes once the answers written so far are sent.
    private func finish() {
        phase = .finished
        cancelTimeout()
        closeTransport()
    }

    // MARK: The timer

    /// After input: the keep-alive timer between requests, the request timer within one.
    /// A request's timer starts with its first byte and is not extended by later ones, so a
    /// trickle of bytes cannot hold the connection.
    private func rearmTimer() {
        let wanted: Phase = reader.isAtRequestBoundary ? .idle : .receiving
        if timeout == nil || wanted != phase {
            schedule(wanted)
        }
    }

    private func schedule(_ wanted: Phase) {
        cancelTimeout()
        phase = wanted
        let milliseconds = wanted == .idle ? configuration.http.keepAliveTimeoutMilliseconds : configuration.handshakeTimeoutMilliseconds
        timeout = loop.scheduleTimer(for: self, afterMilliseconds: milliseconds)
    }

    private func cancelTimeout() {
        if let timeout { loop.cancel(timeout) }
        timeout = nil
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }
}
