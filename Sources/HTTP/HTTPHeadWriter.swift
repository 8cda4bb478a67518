/// Serialises an HTTP head: a start line, fields, and the empty line.
///
/// Fields come from callers and are sanitised so they cannot inject lines: a
/// field whose name is not a token is dropped, and control characters in a
/// value (CR and LF included) become spaces.
package enum HTTPHeadWriter {
    package static func head(startLine: String, fields: [(name: String, value: String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(startLine.utf8.count + fields.reduce(4) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        bytes.append(contentsOf: startLine.utf8)
        appendLineEnd(to: &bytes)
        for (name, value) in fields { appendField(name: name, value: value, to: &bytes) }
        appendLineEnd(to: &bytes)
        return bytes
    }

    /// Appends `name: value` and a line end, sanitised as the head is: bytes are written
    /// straight into the output, since every response of the publish API goes through here.
    package static func appendField(name: String, value: String, to bytes: inout [UInt8]) {
        guard !name.isEmpty, name.utf8.allSatisfy(HTTPHeadSyntax.isTokenByte) else { return }
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(UInt8(ascii: " "))
        if value.utf8.allSatisfy(HTTPHeadSyntax.isFieldValueByte) {
            bytes.append(contentsOf: value.utf8)
        } else {
            for byte in value.utf8 { bytes.append(HTTPHeadSyntax.isFieldValueByte(byte) ? byte : UInt8(ascii: " ")) }
        }
        appendLineEnd(to: &bytes)
    }

    /// Appends `value` in decimal digits (a status code, a length).
    package static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        guard value >= 10 else { return bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: max(0, value))) }
        appendDecimal(value / 10, to: &bytes)
        bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: value % 10))
    }

    package static func appendLineEnd(to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\r"))
        bytes.append(UInt8(ascii: "\n"))
    }

    package static func sanitisedValue(_ value: String) -> String {
        guard !value.utf8.allSatisfy(HTTPHeadSyntax.isFieldValueByte) else { return value }
        let bytes = value.utf8.map { HTTPHeadSyntax.isFieldValueByte($0) ? $0 : UInt8(ascii: " ") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
