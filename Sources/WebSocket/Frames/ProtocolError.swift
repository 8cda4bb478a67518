/// Every way a peer can break RFC 6455 in the frames it sends.
///
/// Each error maps to the close code the connection answers with.
enum ProtocolError: Error, Hashable, Sendable {
    /// RSV1–3 set although no extension was negotiated (§5.2).
    case reservedBitsSet
    /// An opcode outside 0–2 and 8–10 (§5.2).
    case unknownOpcode
    /// A control frame without FIN (§5.5).
    case fragmentedControlFrame
    /// A control frame with a payload over 125 bytes (§5.5).
    case controlFrameTooLong
    /// A continuation frame while no fragmented message was in progress (§5.4).
    case unexpectedContinuation
    /// A new text or binary frame while a fragmented message was in progress (§5.4).
    case expectedContinuation
    /// A frame from a client without a masking key (§5.1).
    case unmaskedFrameFromClient
    /// A frame from a server with a masking key (§5.1).
    case maskedFrameFromServer
    /// A 64-bit payload length with the most significant bit set (§5.2).
    case lengthTopBitSet
    /// A text message that is not valid UTF-8 (§8.1).
    case invalidUTF8
    /// A close frame whose reason is not valid UTF-8 (§5.5.1).
    case invalidCloseReason
    /// A close frame whose code may not appear on the wire (§7.4).
    case invalidCloseCode
    /// A close frame with a one-byte payload: a code needs two (§5.5.1).
    case closePayloadTooShort
    /// A frame longer than the configured maximum frame size.
    case frameTooBig
    /// A message longer than the configured maximum message size.
    case messageTooBig

    /// The close code to send when the peer commits this error.
    var closeCode: CloseCode {
        switch self {
        case .invalidUTF8, .invalidCloseReason:
            .invalidPayload
        case .frameTooBig, .messageTooBig:
            .messageTooBig
        case .reservedBitsSet, .unknownOpcode, .fragmentedControlFrame, .controlFrameTooLong,
            .unexpectedContinuation, .expectedContinuation, .unmaskedFrameFromClient,
            .maskedFrameFromServer, .lengthTopBitSet, .invalidCloseCode, .closePayloadTooShort:
            .protocolError
        }
    }
}
