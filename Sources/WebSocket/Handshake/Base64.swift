/// Base64 with the standard alphabet and required padding (RFC 4648 §4),
/// for `Sec-WebSocket-Key` and `Sec-WebSocket-Accept`.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let padding = UInt8(ascii: "=")

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(second == nil ? padding : alphabet[Int(group >> 6 & 0x3F)])
            output.append(third == nil ? padding : alphabet[Int(group & 0x3F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes `string`, or returns nil if it is not exactly base64: a length
    /// that is a multiple of 4, alphabet characters only, and `=` only as the
    /// last one or two characters. Whitespace is not skipped. Unused low bits
    /// in the last group are ignored (RFC 4648 §3.5 lets decoders accept them).
    static func decode(_ string: some StringProtocol) -> [UInt8]? {
        let characters = Array(string.utf8)
        guard characters.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(characters.count / 4 * 3)
        var groupStart = 0
        while groupStart < characters.count {
            let isLastGroup = groupStart + 4 == characters.count
            guard let group = decodeGroup(characters[groupStart..<groupStart + 4], allowPadding: isLastGroup) else {
                return nil
            }
            output.append(contentsOf: group)
            groupStart += 4
        }
        return output
    }

    /// Decodes 4 characters into 1 to 3 bytes; padding is allowed only in the last group.
    private static func decodeGroup(_ characters: ArraySlice<UInt8>, allowPadding: Bool) -> [UInt8]? {
        let start = characters.startIndex
        let paddingCount = characters[start + 3] == padding ? (characters[start + 2] == padding ? 2 : 1) : 0
        guard paddingCount == 0 || allowPadding else { return nil }
        var group: UInt32 = 0
        for index in start..<start + 4 - paddingCount {
            guard let value = sextet(characters[index]) else { return nil }
            group = group << 6 | value
        }
        group <<= 6 * UInt32(paddingCount)
        let bytes = [UInt8(truncatingIfNeeded: group >> 16), UInt8(truncatingIfNeeded: group >> 8), UInt8(truncatingIfNeeded: group)]
        return Array(bytes[0..<3 - paddingCount])
    }

    private static func sextet(_ character: UInt8) -> UInt32? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(character - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(character - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(character - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
