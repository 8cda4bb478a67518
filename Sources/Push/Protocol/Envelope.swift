import WebSocket

/// The frames the server sends on the `/ws` protocol (see PROTOCOL.md next to this file),
/// each built once: a publication's envelope is encoded once per publish and shared by every
/// subscriber.
struct Envelope: Sendable {
    let bytes: [UInt8]
    let kind: MessageKind

    /// The publication of `entry` on `topic`: a JSON `message` for text, the binary framing
    /// for binary. The entry's own envelope when it has one (no encoding, no copy).
    static func message(topic: String, entry: HistoryEntry) -> Envelope {
        if let envelope = entry.envelope { return Envelope(bytes: envelope, kind: entry.isText ? .text : .binary) }
        return entry.isText
            ? textMessage(topic: topic, offset: entry.offset, payload: entry.payload)
            : binaryMessage(topic: topic, offset: entry.offset, payload: entry.payload)
    }

    /// The envelope of a message when it holds the message verbatim, with where the message
    /// lies in it: `trailer` bytes follow it (`}` after a JSON text, `"}` after a text sent as
    /// a JSON string, nothing after binary). Nil for a text that escaping changed (one with
    /// quotes, backslashes or control characters), which the envelope does not hold as it is.
    static func encodeMessage(topic: String, offset: UInt64, isText: Bool, payload: [UInt8])
        -> (bytes: [UInt8], payloadStart: Int, trailer: Int)? {
        guard isText else {
            let bytes = binaryMessage(topic: topic, offset: offset, payload: payload).bytes
            return (bytes, bytes.count - payload.count, 0)
        }
        let (bytes, dataStart, isJSON) = encodeText(topic: topic, offset: offset, payload: payload)
        if isJSON { return (bytes, dataStart, 1) }
        // Quoted: held verbatim only if escaping (or decoding, were the text not valid UTF-8)
        // changed nothing. The length alone would not say: a 3-byte invalid sequence decodes
        // to a 3-byte replacement character.
        let start = dataStart + 1
        guard bytes.count == start + payload.count + 2, bytes[start..<(start + payload.count)].elementsEqual(payload) else { return nil }
        return (bytes, start, 2)
    }

    /// `{"op":"message","topic":"T","offset":N,"data":V}`: `V` is the message itself when it
    /// is a JSON text, and the message as a JSON string otherwise.
    static func textMessage(topic: String, offset: UInt64, payload: [UInt8]) -> Envelope {
        Envelope(bytes: encodeText(topic: topic, offset: offset, payload: payload).bytes, kind: .text)
    }

    /// The text envelope, where `V` starts in it, and whether `V` is the message itself.
    private static func encodeText(topic: String, offset: UInt64, payload: [UInt8]) -> (bytes: [UInt8], dataStart: Int, isJSON: Bool) {
        let isJSON = (try? JSON(parsing: payload)) != nil
        // The data as it is, or quoted, then "}".
        var bytes = textMessageHead(topic: topic, offset: offset, restCount: payload.count + (isJSON ? 1 : 3))
        let dataStart = bytes.count
        if isJSON {
            bytes += payload
        } else {
            appendString(String(decoding: payload, as: UTF8.self), to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return (bytes, dataStart, isJSON)
    }

    /// `{"op":"message","topic":"T","offset":N,"data":`, with room for `restCount` more bytes.
    private static func textMessageHead(topic: String, offset: UInt64, restCount: Int) -> [UInt8] {
        var digits = 1
        var rest = offset
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        var bytes: [UInt8] = []
        // Exactly what the envelope takes when the topic needs no escape (valid topic names
        // never do), so that a history entry holds no spare capacity: the fixed text (42
        // bytes), the quoted topic, the digits, then the rest.
        bytes.reserveCapacity(42 + topic.utf8.count + 2 + digits + restCount)
        bytes += #"{"op":"message","topic":"#.utf8
        appendString(topic, to: &bytes)
        bytes += #","offset":\#(offset),"data":"#.utf8
        return bytes
    }

    /// Version byte 1, the offset (64-bit big-endian), the topic's length and name, the message.
    static func binaryMessage(topic: String, offset: UInt64, payload: [UInt8]) -> Envelope {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(10 + topic.utf8.count + payload.count)
        bytes.append(1)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: offset >> UInt64(shift))) }
        bytes.append(UInt8(truncatingIfNeeded: topic.utf8.count))
        bytes += topic.utf8
        bytes += payload
        return Envelope(bytes: bytes, kind: .binary)
    }

    /// A reply: a JSON object written from its fields, in order.
    static func reply(_ fields: [(String, JSON)]) -> Envelope {
        Envelope(bytes: Array(JSON.object(fields).serialized.utf8), kind: .text)
    }

    static func subscribed(_ topic: String, _ recovery: Recovery, id: JSON?) -> Envelope {
        let recovered: Bool
        if case .recovered = recovery { recovered = true } else { recovered = false }
        return reply(withID(id, [
            ("op", .string("subscribed")), ("topic", .string(topic)),
            ("offset", .int(Int(clamping: recovery.current.offset))), ("epoch", .string(recovery.current.epoch)),
            ("recovered", .bool(recovered)),
        ]))
    }

    static func error(_ error: CommandError, id: JSON?) -> Envelope {
        reply(withID(id, [("op", .string("error")), ("code", .int(error.code)), ("reason", .string(error.reason))]))
    }

    /// `fields` with `"id"` after `"op"`, when the command had one.
    static func withID(_ id: JSON?, _ fields: [(String, JSON)]) -> [(String, JSON)] {
        guard let id, let first = fields.first else { return fields }
        return [first, ("id", id)] + fields.dropFirst()
    }

    private static func appendString(_ text: String, to bytes: inout [UInt8]) {
        bytes += JSON.string(text).serialized.utf8
    }
}
