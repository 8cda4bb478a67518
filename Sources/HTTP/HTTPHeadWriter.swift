/// Serialises an HTTP head: a start line, fields, and the empty line.
///
/// Fields come from callers and are sanitised so they cannot inject lines: a
/// field whose name is not a token is dropped, and control characters in a
/// value (CR and LF included) become spaces.
package enum HTTPHeadWriter {
    package static func head(startLine: String, fields: [(name: String, value: String)]) -> [UInt8] {
        var text = startLine + "\r\n"
        for (name, value) in fields where !name.isEmpty && name.utf8.allSatisfy(HTTPHeadSyntax.isTokenByte) {
            text += "\(name): \(sanitisedValue(value))\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    package static func sanitisedValue(_ value: String) -> String {
        guard !value.utf8.allSatisfy(HTTPHeadSyntax.isFieldValueByte) else { return value }
        let bytes = value.utf8.map { HTTPHeadSyntax.isFieldValueByte($0) ? $0 : UInt8(ascii: " ") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
