import WebSocket

/// The WebSocket under a ``PushClient``: one per connection attempt. It only forwards its
/// events to the client, which tells a stale socket (an earlier attempt's) from the current
/// one by identity.
final class PushClientSocket: WebSocket, @unchecked Sendable {
    /// Weak: a client that the application dropped must not be kept alive by its socket.
    weak var owner: PushClient?

    init(context: WebSocketContext, owner: PushClient) {
        self.owner = owner
        super.init(context: context)
    }

    override func didOpen() {
        owner?.socketOpened(self)
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        owner?.socket(self, received: message, kind: kind)
    }

    override func didClose(code: CloseCode, reason: String) {
        owner?.socketClosed(self, code: code, reason: reason)
    }
}
