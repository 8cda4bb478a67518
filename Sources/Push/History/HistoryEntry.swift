/// One published message as the history keeps it.
///
/// A kept message also carries its `/ws` envelope (`{"op":"message",…}`, or the binary
/// framing), encoded once when it is kept: every client that recovers it is sent those bytes,
/// rather than each encoding it anew. The envelope holds the message itself verbatim (a JSON
/// text as the `data` value, another text as a JSON string, a binary message at the end), so
/// the entry stores the envelope alone and the message is a range of it: one allocation per
/// entry, as before, larger by the envelope's head (the topic's name and the offset, about 50
/// bytes). A text that escaping changes (quotes, backslashes, control characters) is not in
/// the envelope as it is: it is kept alone, and encoded when it is sent.
public struct HistoryEntry: Sendable, Equatable {
    /// The message's position in its topic: 1 for the first, one more for each next.
    public let offset: UInt64
    /// Loop time (milliseconds) when it was published, for the age limit.
    public let publishedAt: Int64
    /// The envelope when the entry has one (the message lies within it), otherwise the
    /// message alone.
    private let bytes: [UInt8]
    /// Where the message starts in `bytes`: 0 without an envelope, past the envelope's head
    /// (never empty) with one.
    private let payloadStart: UInt32
    /// How many bytes of `bytes` follow the message (see `Envelope.encodeMessage`).
    private let payloadTrailer: UInt8
    /// True for a text message (valid UTF-8), false for binary.
    public let isText: Bool

    /// An entry without an envelope (for instance one read back from another node's stream).
    public init(offset: UInt64, publishedAt: Int64, isText: Bool, payload: [UInt8]) {
        self.init(offset: offset, publishedAt: publishedAt, isText: isText, bytes: payload, payloadStart: 0, payloadTrailer: 0)
    }

    /// An entry of `topic` with its envelope, when the envelope can hold the message verbatim.
    init(topic: String, offset: UInt64, publishedAt: Int64, isText: Bool, payload: [UInt8]) {
        guard let (envelope, start, trailer) = Envelope.encodeMessage(topic: topic, offset: offset, isText: isText, payload: payload),
              let payloadStart = UInt32(exactly: start), payloadStart > 0 else {
            self.init(offset: offset, publishedAt: publishedAt, isText: isText, payload: payload)
            return
        }
        self.init(offset: offset, publishedAt: publishedAt, isText: isText, bytes: envelope, payloadStart: payloadStart,
                  payloadTrailer: UInt8(trailer))
    }

    private init(offset: UInt64, publishedAt: Int64, isText: Bool, bytes: [UInt8], payloadStart: UInt32, payloadTrailer: UInt8) {
        self.offset = offset
        self.publishedAt = publishedAt
        self.isText = isText
        self.bytes = bytes
        self.payloadStart = payloadStart
        self.payloadTrailer = payloadTrailer
    }

    /// The message as it was published (a copy when it lies within the envelope).
    public var payload: [UInt8] {
        hasEnvelope ? Array(bytes[payloadRange]) : bytes
    }

    /// Calls `body` with the message's bytes, uncopied.
    func withPayload<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[payloadRange])) }
    }

    /// The `/ws` envelope encoded when the entry was kept; nil when the entry has none.
    var envelope: [UInt8]? {
        hasEnvelope ? bytes : nil
    }

    private var hasEnvelope: Bool { payloadStart > 0 }

    private var payloadRange: Range<Int> {
        Int(payloadStart)..<(bytes.count - Int(payloadTrailer))
    }

    /// What the entry costs in memory, as the global history budget counts it: the message
    /// (within its envelope, when it has one) plus the entry's own fields and the array
    /// header (an estimate of the allocator's share).
    var cost: Int { bytes.count + Self.overhead }

    static let overhead = 64

    /// The same message at the same position, whether or not either carries its envelope.
    public static func == (left: HistoryEntry, right: HistoryEntry) -> Bool {
        left.offset == right.offset && left.publishedAt == right.publishedAt && left.isText == right.isText
            && left.withPayload { a in right.withPayload { b in a.elementsEqual(b) } }
    }
}
