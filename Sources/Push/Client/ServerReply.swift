/// One frame from a `/ws` server, as the client reads it (PROTOCOL.md in Push/Protocol).
///
/// The server is not trusted: `parse` returns nil for anything that is not a well-formed
/// reply (invalid JSON, a missing or mistyped field, and never traps; an unknown `op` is ``other(op:)``.
enum ServerReply: Equatable {
    /// `id` is nil when the server sent it unasked (with Redis: it lost messages of the topic).
    case subscribed(topic: String, position: StreamPosition, recovered: Bool, id: JSON?)
    case unsubscribed(topic: String, id: JSON?)
    /// `offset` is nil with a Redis backplane (the message itself carries it).
    case published(topic: String, offset: UInt64?, id: JSON?)
    case message(topic: String, offset: UInt64, data: JSON)
    case binaryMessage(topic: String, offset: UInt64, payload: [UInt8])
    case refreshed(id: JSON?)
    case error(code: Int, reason: String, id: JSON?)
    /// A well-formed reply with an `op` this client does not know (a newer server's).
    case other(op: String)

    /// Reads a text frame; nil when it is not a reply this client understands.
    static func parse(text bytes: UnsafeRawBufferPointer, limits: JSONLimits) -> ServerReply? {
        guard let object = try? JSON(parsing: bytes, limits: limits), let op = object["op"]?.stringValue else { return nil }
        switch op {
        case "message":
            guard let topic = object["topic"]?.stringValue, let offset = offset(object["offset"]),
                  let data = object["data"] else { return nil }
            return .message(topic: topic, offset: offset, data: data)
        case "subscribed":
            guard let topic = object["topic"]?.stringValue, let offset = offset(object["offset"]),
                  let epoch = object["epoch"]?.stringValue, let recovered = object["recovered"]?.boolValue else { return nil }
            return .subscribed(topic: topic, position: StreamPosition(offset: offset, epoch: epoch), recovered: recovered, id: object["id"])
        case "unsubscribed":
            return object["topic"]?.stringValue.map { .unsubscribed(topic: $0, id: object["id"]) }
        case "published":
            guard let topic = object["topic"]?.stringValue else { return nil }
            return .published(topic: topic, offset: offset(object["offset"]), id: object["id"])
        case "refreshed":
            return .refreshed(id: object["id"])
        case "error":
            guard let code = object["code"]?.intValue else { return nil }
            return .error(code: code, reason: object["reason"]?.stringValue ?? "", id: object["id"])
        default:
            return .other(op: op)
        }
    }

    /// Reads a binary publication: version 1, the offset (64-bit big-endian), the topic's
    /// length and name, the message.
    static func parse(binary bytes: UnsafeRawBufferPointer) -> ServerReply? {
        guard bytes.count >= 11, bytes[0] == 1 else { return nil }
        var offset: UInt64 = 0
        for index in 1...8 { offset = offset << 8 | UInt64(bytes[index]) }
        let length = Int(bytes[9])
        guard length >= 1, bytes.count >= 10 + length else { return nil }
        let topic = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[10..<(10 + length)]), as: UTF8.self)
        return .binaryMessage(topic: topic, offset: offset, payload: Array(bytes[(10 + length)...]))
    }

    /// An offset is a JSON integer ≥ 0; anything else (a fraction, a negative number, a
    /// string) makes the reply malformed.
    private static func offset(_ value: JSON?) -> UInt64? {
        guard case .int(let number)? = value, number >= 0 else { return nil }
        return UInt64(number)
    }
}
