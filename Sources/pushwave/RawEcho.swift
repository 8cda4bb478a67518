import Reactor
@_spi(Internals) import WebSocket
import HTTP

/// `--raw-echo`: the reactor alone. Answers the upgrade request with a 101, then writes back
/// every byte unchanged — no framing, no unmasking. It measures what the event loop and the
/// socket layer cost, next to a C epoll echo doing the same.
final class RawEchoConnection: TCPConnection, @unchecked Sendable {
    private var request: HTTPRequestParser? = HTTPRequestParser()

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        guard var parser = request else {
            write(UnsafeRawBufferPointer(bytes))
            return
        }
        switch parser.parse(UnsafeRawBufferPointer(bytes)) {
        case .needMore:
            request = parser
        case .failed:
            closeTransport()
        case .complete(let head, let consumed):
            request = nil
            let accept = Handshake.acceptValue(forKey: head.value("Sec-WebSocket-Key") ?? "")
            let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"
            Array(response.utf8).withUnsafeBytes { write($0) }
            write(UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
        }
    }
}
