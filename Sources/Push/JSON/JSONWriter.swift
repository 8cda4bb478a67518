extension JSON {
    /// The value as compact JSON text (no whitespace), members in their order.
    ///
    /// What the parser reads, this writes back so that it parses to an equal value: a double
    /// is written in its shortest form that reads back exactly, and always with a fraction or
    /// an exponent, so that it stays a double. A non-finite double, which no parsed value
    /// holds, is written as `null` (JSON has neither NaN nor infinity).
    public var serialized: String {
        String(decoding: serializedBytes, as: UTF8.self)
    }

    /// ``serialized`` as UTF-8 bytes, ready to send.
    public var serializedBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(128)  // most values written are small answers: one allocation
        write(to: &output)
        return output
    }

    /// Appends the value as compact JSON text to `output`.
    public func write(to output: inout String) {
        output += serialized
    }

    /// Appends the value as compact JSON text, in UTF-8, to `output`. Bytes rather than a
    /// String: appending to an array costs a fraction of appending to a String, and the
    /// publish API writes an answer for every request.
    public func write(to output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): Self.appendDecimal(value, to: &output)
        case .double(let value): output.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
        case .string(let value): Self.quote(value, into: &output)
        case .array(let values):
            output.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                value.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let fields):
            output.append(UInt8(ascii: "{"))
            for (index, (key, value)) in fields.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                Self.quote(key, into: &output)
                output.append(UInt8(ascii: ":"))
                value.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
        // Int.min has no positive counterpart: its magnitude is taken as unsigned.
        if value < 0 { output.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var position = buffer.count
            repeat {
                position -= 1
                buffer[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            output.append(contentsOf: buffer[position...])
        }
    }

    /// Escapes only what RFC 8259 requires (quote, backslash, control characters); every
    /// other character is written as itself (multi-byte UTF-8 sequences pass unchanged).
    private static func quote(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        // The common case, nothing to escape: the text is appended whole.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            output.append(contentsOf: text.utf8)
            output.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): output.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): output.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): output.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): output.append(contentsOf: "\\t".utf8)
            case let control where control < 0x20:
                output.append(contentsOf: "\\u00".utf8)
                for nibble in [control >> 4, control & 0xF] { output.append(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10) }
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
