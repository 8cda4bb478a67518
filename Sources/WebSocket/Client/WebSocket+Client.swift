import HTTP
import Reactor
import TLS

/// The client side of a connection: the TCP connect and the HTTP upgrade (RFC 6455 §4.1),
/// after which the connection works as a server's does.
extension WebSocket {
    /// Opens a client connection: TCP connect, then the HTTP upgrade. `didOpen()` follows, or
    /// `didClose(code: .abnormalClosure, ...)` when either fails. `localAddress` picks the
    /// source address (to spread many connections over several local addresses).
    ///
    /// A `wss://` URL connects over TLS with `tls` (a client context), or, when it is nil,
    /// with one that trusts the system's certificate store; the server's certificate must
    /// name the URL's host, which is also sent as SNI.
    public func connect(
        to url: WebSocketURL, from localAddress: SocketAddress? = nil,
        subprotocols: [String] = [], headers: [(name: String, value: String)] = [],
        tls: TLSContext? = nil
    ) throws {
        precondition(context.role == .client, "connect needs a client context")
        guard case .idle = phase else { preconditionFailure("connect on a connection already in use") }
        let offer = DeflateClientNegotiation.offer(for: context.configuration.deflate)
        let upgrade = ClientUpgrade(
            url: url, subprotocols: subprotocols, headers: headers + (offer.map { [("Sec-WebSocket-Extensions", $0)] } ?? []),
            maxHeaderBytes: context.configuration.maxRequestHeadBytes)
        if url.isSecure {
            let tlsContext = try tls ?? TLSContext.systemTrustClient()
            precondition(!tlsContext.isServer, "connect needs a client TLS context")
            transport = TLSTransport(context: tlsContext, loop: context.loop, serverName: url.tlsServerName)
        }
        try connect(to: url.socketAddress(), from: localAddress)
        extrasForWriting.clientUpgrade = upgrade
        phase = .handshaking
        setTimer(afterMilliseconds: context.configuration.handshakeTimeoutMilliseconds)
    }

    /// The subprotocol the server chose, once open (client side).
    public var subprotocol: String? { extras?.subprotocol }

    /// The server's answer to the upgrade request, as it arrives; frames may follow it in
    /// the same read.
    func receiveHandshake(_ upgrade: ClientUpgrade, _ bytes: UnsafeMutableRawBufferPointer) {
        switch upgrade.parser.parse(UnsafeRawBufferPointer(bytes)) {
        case .needMore:
            return
        case .failed(let status):
            closeReason = "bad handshake response (\(status.code) \(status.reasonPhrase))"
            closeTransport()
        case .complete(let head, let consumed):
            extras?.clientUpgrade = nil  // the caller's reference keeps it until this returns
            let offered = context.configuration.deflate.isEnabled
            switch ClientHandshake.validate(
                head, key: upgrade.key, requestedSubprotocols: upgrade.subprotocols, offeredExtensions: offered)
            {
            case .failure(let error):
                closeReason = "handshake refused: \(error)"
                closeTransport()
            case .success(let subprotocol):
                if let subprotocol { extrasForWriting.subprotocol = subprotocol }
                guard acceptCompression(in: head) else {
                    closeTransport()
                    return
                }
                opened()
                // Frames that came in the same read as the response.
                if consumed < bytes.count, case .open = phase {
                    parseFrames(UnsafeMutableRawBufferPointer(rebasing: bytes[consumed...]))
                }
            }
        }
    }

    /// Checks the server's permessage-deflate answer to our offer and sets compression up;
    /// false (with the close reason set) when the answer fails the handshake (RFC 7692 §5.1).
    private func acceptCompression(in head: HTTPResponseHead) -> Bool {
        let values = head.values("Sec-WebSocket-Extensions")
        let configuration = context.configuration.deflate
        do {
            let answer = values.isEmpty ? nil : values.joined(separator: ", ")
            guard let parameters = try DeflateClientNegotiation.validateResponse(answer, configuration: configuration) else {
                return true
            }
            guard enableCompression(parameters) else {
                closeReason = "no memory for permessage-deflate"
                return false
            }
            return true
        } catch {
            closeReason = "handshake refused: bad Sec-WebSocket-Extensions (\(error))"
            return false
        }
    }

    /// The TCP connection is up: the upgrade request goes out.
    func sendUpgradeRequest(_ upgrade: ClientUpgrade) {
        upgrade.request.withUnsafeBytes { write($0) }
    }
}
