import WebSocket

/// A publication as it crosses Redis, in a channel named `pushwave:TOPIC`:
/// `OFFSET SP EPOCH SP KIND PAYLOAD`, where OFFSET is decimal, EPOCH has no space, and KIND
/// is one byte, `t` (text) or `b` (binary), directly followed by the payload's bytes.
///
/// The publish script (`BackplaneScript.publish`) writes the offset and epoch, which Redis assigns;
/// the publishing node sends only KIND PAYLOAD.
struct BackplaneFrame: Equatable {
    var position: StreamPosition
    var kind: MessageKind
    var payload: [UInt8]

    static let channelPrefix = "pushwave:"

    static func channel(of topic: String) -> String { channelPrefix + topic }

    /// The topic of a channel, or nil for a channel that is not ours.
    static func topic(ofChannel channel: [UInt8]) -> String? {
        let prefix = channelPrefix.utf8
        guard channel.count > prefix.count, channel.starts(with: prefix) else { return nil }
        return String(decoding: channel.dropFirst(prefix.count), as: UTF8.self)
    }

    /// What the publishing node hands to the script: KIND PAYLOAD.
    static func body(_ payload: [UInt8], kind: MessageKind) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(payload.count + 1)
        body.append(kind == .text ? UInt8(ascii: "t") : UInt8(ascii: "b"))
        body += payload
        return body
    }

    /// Decodes a frame; nil for anything malformed (it is then dropped, never delivered).
    init?(decoding bytes: [UInt8]) {
        let space = UInt8(ascii: " ")
        guard let firstSpace = bytes.firstIndex(of: space),
            let offset = UInt64(String(decoding: bytes[..<firstSpace], as: UTF8.self)),
            let secondSpace = bytes[(firstSpace + 1)...].firstIndex(of: space),
            secondSpace > firstSpace + 1, secondSpace + 1 < bytes.count
        else { return nil }
        switch bytes[secondSpace + 1] {
        case UInt8(ascii: "t"): kind = .text
        case UInt8(ascii: "b"): kind = .binary
        default: return nil
        }
        position = StreamPosition(offset: offset, epoch: String(decoding: bytes[(firstSpace + 1)..<secondSpace], as: UTF8.self))
        payload = Array(bytes[(secondSpace + 2)...])
    }

    init(position: StreamPosition, kind: MessageKind, payload: [UInt8]) {
        self.position = position
        self.kind = kind
        self.payload = payload
    }

    /// The bytes the script publishes for this frame (for tests).
    var encoded: [UInt8] {
        Array("\(position.offset) \(position.epoch) ".utf8) + Self.body(payload, kind: kind)
    }
}
