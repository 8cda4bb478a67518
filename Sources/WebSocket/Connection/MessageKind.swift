/// Whether a message is UTF-8 text or binary data.
public enum MessageKind: Sendable {
    /// A text message (opcode 0x1): its payload is valid UTF-8, checked on receipt.
    case text
    /// A binary message (opcode 0x2): any bytes.
    case binary

    var opcode: Opcode { self == .text ? .text : .binary }
}

/// What became of a message given to `send`.
public enum SendStatus: Sendable, Equatable {
    /// It is on its way: taken by the kernel, corked with this connection's other output, or
    /// (the part the kernel did not take) queued in the send buffer, which `bufferedAmount`
    /// counts.
    case sent
    /// It would have pushed the send buffer past its limit and was not sent
    /// (slow-consumer policy `.dropMessages`).
    case dropped
    /// The connection is closing or closed; nothing was sent.
    case closed
}

extension RawSpan {
    /// The bytes decoded as UTF-8 (text messages are already validated).
    public var utf8String: String {
        withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// A copy of the bytes that may outlive the callback that received them.
    public var byteArray: [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}
