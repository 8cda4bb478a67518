/// The payload of a close frame (RFC 6455 §5.5.1): empty, or a 2-byte
/// big-endian code followed by a UTF-8 reason, 125 bytes at most in all.
enum ClosePayload {
    /// The longest reason that fits beside the code in a control frame.
    static let maxReasonLength = 123

    /// A received close payload that passed validation.
    struct Decoded {
        /// Nil when the payload was empty.
        var code: CloseCode?
        /// Valid UTF-8, borrowed from the payload.
        var reason: UnsafeRawBufferPointer
    }

    /// Checks a received close payload: not 1 byte long, a code allowed on
    /// the wire, a reason that is valid UTF-8.
    static func decode(_ payload: UnsafeRawBufferPointer) -> Result<Decoded, ProtocolError> {
        guard payload.count >= 2 else {
            if payload.isEmpty {
                return .success(Decoded(code: nil, reason: UnsafeRawBufferPointer(start: nil, count: 0)))
            }
            return .failure(.closePayloadTooShort)
        }
        let code = CloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
        guard code.isValidOnWire else { return .failure(.invalidCloseCode) }
        let reason = UnsafeRawBufferPointer(rebasing: payload[2...])
        var validator = UTF8Validator()
        guard validator.validate(reason), validator.isComplete else { return .failure(.invalidCloseReason) }
        return .success(Decoded(code: code, reason: reason))
    }

    /// Writes `code` and as much of `reason` as fits in 123 bytes, cut on a
    /// character boundary so the result stays valid UTF-8. `destination` must
    /// have room for 125 bytes. Returns the number of bytes written.
    static func write(into destination: UnsafeMutableRawPointer, code: CloseCode, reason: String) -> Int {
        destination.storeBytes(of: code.rawValue.bigEndian, as: UInt16.self)
        var reason = reason
        let reasonLength = reason.withUTF8 { utf8 -> Int in
            let length = lengthCutOnCharacterBoundary(utf8, maxLength: maxReasonLength)
            if let source = utf8.baseAddress {
                (destination + 2).copyMemory(from: source, byteCount: length)
            }
            return length
        }
        return 2 + reasonLength
    }

    /// The longest prefix of `utf8` not over `maxLength` bytes that does not split a character.
    static func lengthCutOnCharacterBoundary(_ utf8: UnsafeBufferPointer<UInt8>, maxLength: Int) -> Int {
        guard utf8.count > maxLength else { return utf8.count }
        var end = maxLength
        // The byte after the cut must start a character, not continue one.
        while end > 0, utf8[end] & 0xC0 == 0x80 {
            end -= 1
        }
        return end
    }
}
