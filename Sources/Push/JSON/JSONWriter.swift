extension JSON {
    /// The value as compact JSON text (no whitespace), members in their order.
    ///
    /// What the parser reads, this writes back so that it parses to an equal value: a double
    /// is written in its shortest form that reads back exactly, and always with a fraction or
    /// an exponent, so that it stays a double. A non-finite double, which no parsed value
    /// holds, is written as `null` (JSON has neither NaN nor infinity).
    public var serialized: String {
        var output = ""
        output.reserveCapacity(128)  // most values written are small answers: one allocation
        write(to: &output)
        return output
    }

    /// Appends the value as compact JSON text to `output`.
    public func write(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .int(let value): output += String(value)
        case .double(let value): output += value.isFinite ? value.description : "null"
        case .string(let value): Self.quote(value, into: &output)
        case .array(let values):
            output += "["
            for (index, value) in values.enumerated() {
                if index > 0 { output += "," }
                value.write(to: &output)
            }
            output += "]"
        case .object(let fields):
            output += "{"
            for (index, (key, value)) in fields.enumerated() {
                if index > 0 { output += "," }
                Self.quote(key, into: &output)
                output += ":"
                value.write(to: &output)
            }
            output += "}"
        }
    }

    /// Escapes only what RFC 8259 requires (quote, backslash, control characters); every
    /// other character is written as itself.
    private static func quote(_ text: String, into output: inout String) {
        output += "\""
        // The common case, nothing to escape: the text is appended whole, not scalar by scalar.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            output += text
            output += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
