import WebSocket

/// The frames the server sends on the `/ws` protocol (see PROTOCOL.md next to this file),
/// each built once: a publication's envelope is encoded once per publish and shared by every
/// subscriber.
struct Envelope: Sendable {
    let bytes: [UInt8]
    let kind: MessageKind

    /// The publication of `entry` on `topic`: a JSON `message` for text, the binary framing
    /// for binary.
    static func message(topic: String, entry: HistoryEntry) -> Envelope {
        entry.isText
            ? textMessage(topic: topic, offset: entry.offset, payload: entry.payload)
            : binaryMessage(topic: topic, offset: entry.offset, payload: entry.payload)
    }

    /// `{"op":"message","topic":"T","offset":N,"data":V}`: `V` is the message itself when it
    /// is a JSON text, and the message as a JSON string otherwise.
    static func textMessage(topic: String, offset: UInt64, payload: [UInt8]) -> Envelope {
        var bytes = Array(#"{"op":"message","topic":"#.utf8)
        appendString(topic, to: &bytes)
        bytes += Array(#","offset":\#(offset),"data":"#.utf8)
        if (try? JSON(parsing: payload)) != nil {
            bytes += payload
        } else {
            appendString(String(decoding: payload, as: UTF8.self), to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return Envelope(bytes: bytes, kind: .text)
    }

    /// Version byte 1, the offset (64-bit big-endian), the topic's length and name, the message.
    static func binaryMessage(topic: String, offset: UInt64, payload: [UInt8]) -> Envelope {
        var bytes: [UInt8] = [1]
        bytes.reserveCapacity(10 + topic.utf8.count + payload.count)
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
