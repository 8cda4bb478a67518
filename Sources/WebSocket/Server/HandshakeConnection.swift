import Reactor
import HTTP

/// A freshly accepted connection during its HTTP phase: reads the request head (bounded in
/// size and time), asks the router, then either answers over HTTP and closes, or sends 101
/// and hands the socket over to the WebSocket the route creates. This object, and the
/// request buffer in it, are gone after the upgrade.
final class HandshakeConnection: TCPConnection, @unchecked Sendable {
    private let endpoint: ServerEndpoint
    private var parser: HTTPRequestParser
    private var timeout: TimerHandle?
    private var finished = false

    init(endpoint: ServerEndpoint) {
        self.endpoint = endpoint
        parser = HTTPRequestParser(maxHeaderBytes: endpoint.context.configuration.maxRequestHeadBytes)
        super.init(loop: endpoint.context.loop)
    }

    override func connected() {
        if endpoint.isDraining {
            refuse(503, "server shutting down")
            return
        }
        if endpoint.isOverCapacity {
            refuse(503, "too many connections")
            return
        }
        timeout = loop.scheduleTimer(for: self, afterMilliseconds: endpoint.context.configuration.handshakeTimeoutMilliseconds)
    }

    override func timerFired() {
        timeout = nil
        refuse(408, "request timeout")
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        guard !finished else { return }
        switch parser.parse(UnsafeRawBufferPointer(bytes)) {
        case .needMore:
            return
        case .failed(let status):
            refuse(status, status.reasonPhrase)
        case .complete(let head, let consumed):
            finished = true
            cancelTimeout()
            route(head, pendingInput: UnsafeMutableRawBufferPointer(rebasing: bytes[consumed...]))
        }
    }

    override func closed(_ reason: CloseReason) {
        cancelTimeout()
    }

    private func route(_ head: HTTPRequestHead, pendingInput: UnsafeMutableRawBufferPointer) {
        // The drain may have started while this head was still arriving.
        guard !endpoint.isDraining else {
            refuse(503, "server shutting down")
            return
        }
        switch endpoint.router(ServerRequest(head: head, context: endpoint.context)) {
        case .http(let status, let headers, let body):
            write(HTTPResponse.make(status: status, headers: headers, body: body))
            closeTransport()
        case .upgrade(let subprotocol, let makeSocket):
            switch UpgradeRequest.validate(head) {
            case .failure(let rejection):
                endpoint.recordRejection(rejection.status, rejection.message)
                write(rejection.response)
                closeTransport()
            case .success(let key):
                let offered = subprotocol.map { head.requestedSubprotocols.contains($0) } ?? true
                write(HTTPResponse.switchingProtocols(
                    accept: Handshake.acceptValue(forKey: key), subprotocol: offered ? subprotocol : nil))
                handOver(to: makeSocket(endpoint.context), pendingInput: pendingInput)
            }
        }
    }

    private func refuse(_ status: HTTPStatus, _ message: String) {
        finished = true
        cancelTimeout()
        endpoint.recordRejection(status, message)
        write(HTTPResponse.plainText(status: status, message))
        closeTransport()
    }

    private func cancelTimeout() {
        if let timeout { loop.cancel(timeout) }
        timeout = nil
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }
}
