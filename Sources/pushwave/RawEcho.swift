import Reactor

/// `--raw-echo`: the reactor alone. Answers the first request with a canned 101, then writes
/// back every byte unchanged — no framing, no unmasking. It measures what the event loop and
/// the socket layer cost, next to a C epoll echo doing the same.
final class RawEchoConnection: TCPConnection, @unchecked Sendable {
    private static let upgradeResponse = Array(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: canned\r\n\r\n".utf8)
    private var handshakeDone = false
    /// How much of the "\r\n\r\n" ending the request has been seen, across reads.
    private var terminatorMatched = 0

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        if handshakeDone {
            write(UnsafeRawBufferPointer(bytes))
            return
        }
        let terminator: [UInt8] = [13, 10, 13, 10]
        for (index, byte) in bytes.enumerated() {
            terminatorMatched = byte == terminator[terminatorMatched] ? terminatorMatched + 1 : (byte == 13 ? 1 : 0)
            if terminatorMatched == 4 {
                handshakeDone = true
                Self.upgradeResponse.withUnsafeBytes { write($0) }
                write(UnsafeRawBufferPointer(rebasing: bytes[(index + 1)...]))
                return
            }
        }
    }
}
