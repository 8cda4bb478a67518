/// Receives what ``FrameParser`` finds in the bytes it parses.
///
/// Payloads are borrowed views into the parser's input or its buffer: valid
/// only during the call, never to be kept. Each method returns false to make
/// the parser stop right after this frame (for example after a close frame),
/// true to keep parsing.
protocol FrameSink {
    /// A complete text or binary message; text has already been validated as UTF-8.
    mutating func message(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool
    /// A complete message that the peer compressed (permessage-deflate), still compressed:
    /// it is inflated, and text validated, by the sink. Only once negotiated.
    mutating func compressedMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool
    /// A ping; the connection answers with a pong carrying the same payload.
    mutating func ping(_ payload: UnsafeRawBufferPointer) -> Bool
    /// A pong.
    mutating func pong(_ payload: UnsafeRawBufferPointer) -> Bool
    /// A close frame, its code and reason already validated: `code` is nil
    /// when the payload was empty, and `reason` is valid UTF-8.
    mutating func close(code: CloseCode?, reason: UnsafeRawBufferPointer) -> Bool
}

/// How a call to ``FrameParser/parse(_:into:)`` ended.
enum ParseOutcome: Hashable, Sendable {
    /// Every byte was consumed; the parser keeps any incomplete frame and
    /// waits for more.
    case needMoreBytes
    /// The sink returned false. Bytes from `consumed` on were not looked at
    /// (nor unmasked) and can be passed to a later call.
    case stopped(consumed: Int)
    /// The peer broke the protocol; the parser has freed its buffers and
    /// fails again on every later call.
    case failed(ProtocolError)
}
