/// The kind of a WebSocket frame (RFC 6455 §5.2).
public enum Opcode: UInt8, Sendable {
    /// A later fragment of a text or binary message.
    case continuation = 0x0
    /// The first (or only) frame of a UTF-8 text message.
    case text = 0x1
    /// The first (or only) frame of a binary message.
    case binary = 0x2
    /// Starts or answers the closing handshake.
    case close = 0x8
    /// Asks the peer for a pong carrying the same payload.
    case ping = 0x9
    /// Answers a ping, or serves as an unsolicited heartbeat.
    case pong = 0xA

    /// Control frames (close, ping, pong) have the high bit of the opcode set;
    /// they may not be fragmented and carry at most 125 bytes.
    var isControl: Bool { rawValue & 0x8 != 0 }
}
