/// The status code carried by a close frame (RFC 6455 §7.4).
///
/// Any 16-bit value can be represented, so that codes received from a peer can
/// be inspected; ``isValidOnWire`` tells which of them may actually be sent.
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as sent on the wire.
    public var rawValue: UInt16

    /// Wraps any 16-bit code, valid on the wire or not.
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// Wraps any 16-bit code, valid on the wire or not.
    public init(_ rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// 1000: the purpose of the connection has been fulfilled.
    public static let normalClosure = CloseCode(1000)
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    public static let goingAway = CloseCode(1001)
    /// 1002: the peer broke the protocol.
    public static let protocolError = CloseCode(1002)
    /// 1003: the endpoint cannot accept this kind of data.
    public static let unsupportedData = CloseCode(1003)
    /// 1005: reported locally when a close frame carried no code; never sent.
    public static let noStatusReceived = CloseCode(1005)
    /// 1006: reported locally when the connection dropped without a close frame; never sent.
    public static let abnormalClosure = CloseCode(1006)
    /// 1007: a message's data did not match its type (invalid UTF-8 in text).
    public static let invalidPayload = CloseCode(1007)
    /// 1008: a message violated the endpoint's policy.
    public static let policyViolation = CloseCode(1008)
    /// 1009: a frame or message was too big to process.
    public static let messageTooBig = CloseCode(1009)
    /// 1010: the client needed an extension the server did not negotiate.
    public static let mandatoryExtension = CloseCode(1010)
    /// 1011: the server hit an unexpected condition.
    public static let internalError = CloseCode(1011)
    /// 1012: the server is restarting (IANA registry).
    public static let serviceRestart = CloseCode(1012)
    /// 1013: the server is overloaded; try again later (IANA registry).
    public static let tryAgainLater = CloseCode(1013)
    /// 1014: a gateway got an invalid response upstream (IANA registry).
    public static let badGateway = CloseCode(1014)

    /// Whether this code may appear in a close frame.
    ///
    /// 1000–1003 and 1007–1011 are defined by RFC 6455; 1012–1014 are
    /// registered with IANA and sent by real servers, so they are accepted too.
    /// 1004 is reserved, 1005, 1006 and 1015 are for local reporting only, and
    /// the rest of 1000–2999 is reserved for future protocol revisions.
    /// 3000–3999 (registered) and 4000–4999 (private use) are free for
    /// applications. Everything below 1000 or above 4999 is invalid.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    /// The code as a decimal number, such as `1000`.
    public var description: String { String(rawValue) }
}
