import Redis
import WebSocket

/// A topic's position in Redis and the stream entries that follow an offset, as the range
/// script answers: `[EPOCH, OFFSET, NOW_MS, [[ID, [FIELD, VALUE, ...]], ...]]`.
///
/// Redis's replies are untrusted input: a reply that is not this shape, or whose entries are
/// not in strictly rising offset order from the one asked for, up to the topic's offset,
/// is refused with a reason for the log, and the caller treats the stream as unreadable.
public struct StreamRange: Sendable, Equatable {
    /// One message of the stream.
    public struct Entry: Sendable, Equatable {
        public var offset: UInt64
        /// The epoch the message was published in (a stream that outlived its epoch key
        /// holds messages of an older one).
        public var epoch: String
        /// Redis's clock when it was published, in milliseconds.
        public var publishedAt: Int64
        public var kind: MessageKind
        public var payload: [UInt8]

        public init(offset: UInt64, epoch: String, publishedAt: Int64, kind: MessageKind, payload: [UInt8]) {
            self.offset = offset
            self.epoch = epoch
            self.publishedAt = publishedAt
            self.kind = kind
            self.payload = payload
        }
    }

    /// Why a reply was refused.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// The topic's epoch and the offset of its last message, when the script ran.
    public var position: StreamPosition
    /// Redis's clock when the script ran, in milliseconds (entry ages are measured on it).
    public var now: Int64
    /// Entries from the offset asked for on, oldest first.
    public var entries: [Entry]

    public init(position: StreamPosition, now: Int64, entries: [Entry]) {
        self.position = position
        self.now = now
        self.entries = entries
    }

    /// Reads the script's reply to a request for the entries from offset `first` on.
    public init(parsing reply: RESPValue, first: UInt64) throws(Malformed) {
        guard case .array(let items) = reply, items.count == 4 else { throw Malformed(description: "not a 4-element array: \(Self.brief(reply))") }
        guard case .bulk(let epochBytes) = items[0], !epochBytes.isEmpty, epochBytes.count <= 64, !epochBytes.contains(UInt8(ascii: " ")) else {
            throw Malformed(description: "bad epoch \(Self.brief(items[0]))")
        }
        guard case .integer(let offset) = items[1], offset >= 0 else { throw Malformed(description: "bad offset \(Self.brief(items[1]))") }
        guard case .integer(let now) = items[2] else { throw Malformed(description: "bad clock \(Self.brief(items[2]))") }
        guard case .array(let rawEntries) = items[3] else { throw Malformed(description: "bad entry list \(Self.brief(items[3]))") }
        position = StreamPosition(offset: UInt64(offset), epoch: String(decoding: epochBytes, as: UTF8.self))
        self.now = now
        entries = []
        entries.reserveCapacity(rawEntries.count)
        var previous = first == 0 ? 0 : first - 1
        for raw in rawEntries {
            let entry = try Self.entry(raw)
            guard entry.offset > previous, entry.offset <= position.offset else {
                throw Malformed(description: "entry \(entry.offset) out of order (after \(previous), topic at \(position.offset))")
            }
            previous = entry.offset
            entries.append(entry)
        }
    }

    /// One `[ID, [FIELD, VALUE, ...]]` with the ID `OFFSET-0` and fields `d`, `e` and `t`.
    private static func entry(_ raw: RESPValue) throws(Malformed) -> Entry {
        guard case .array(let pair) = raw, pair.count == 2, case .bulk(let id) = pair[0], case .array(let fields) = pair[1], fields.count % 2 == 0
        else { throw Malformed(description: "bad entry \(brief(raw))") }
        guard id.count > 2, id.suffix(2) == Array("-0".utf8), let offset = UInt64(String(decoding: id.dropLast(2), as: UTF8.self)), offset > 0 else {
            throw Malformed(description: "bad entry id \(String(decoding: id.prefix(40), as: UTF8.self))")
        }
        var body: [UInt8]?
        var epoch: String?
        var time: Int64?
        for index in stride(from: 0, to: fields.count, by: 2) {
            guard case .bulk(let name) = fields[index], case .bulk(let value) = fields[index + 1] else { continue }
            switch name {
            case [UInt8(ascii: "d")]: body = value
            case [UInt8(ascii: "e")]: epoch = String(decoding: value, as: UTF8.self)
            case [UInt8(ascii: "t")]: time = Int64(String(decoding: value, as: UTF8.self))
            default: continue  // fields of a later version are ignored
            }
        }
        guard let body, let kindByte = body.first, let epoch, let time else { throw Malformed(description: "entry \(offset) lacks a field") }
        let kind: MessageKind
        switch kindByte {
        case UInt8(ascii: "t"): kind = .text
        case UInt8(ascii: "b"): kind = .binary
        default: throw Malformed(description: "entry \(offset) has an unknown kind")
        }
        return Entry(offset: offset, epoch: epoch, publishedAt: time, kind: kind, payload: Array(body.dropFirst()))
    }

    /// A reply's start, for a log line (a lying server may send anything, of any size).
    private static func brief(_ value: RESPValue) -> String {
        String(String(describing: value).prefix(80))
    }
}
