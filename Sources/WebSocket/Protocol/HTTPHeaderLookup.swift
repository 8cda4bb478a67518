/// Case-insensitive lookups over an ordered list of header fields, shared by
/// requests and responses. Field names are ASCII tokens, so ASCII case
/// folding is all that is needed.
enum HTTPHeaderLookup {
    typealias Fields = [(name: String, value: String)]

    /// The values of every field called `name`, in order.
    static func values(_ name: String, in fields: Fields) -> [String] {
        fields.filter { equalsIgnoringASCIICase($0.name, name) }.map(\.value)
    }

    /// The first value of the field called `name`.
    static func value(_ name: String, in fields: Fields) -> String? {
        fields.first { equalsIgnoringASCIICase($0.name, name) }?.value
    }

    /// The comma-separated elements of every field called `name`, trimmed,
    /// empty elements dropped (RFC 9110 §5.6.1).
    static func listElements(_ name: String, in fields: Fields) -> [Substring] {
        values(name, in: fields).flatMap { value in
            value.split(separator: ",").map(trimmingWhitespace).filter { !$0.isEmpty }
        }
    }

    /// Whether `token` is an element of the list fields called `name`, ignoring case.
    static func hasToken(_ token: String, in name: String, fields: Fields) -> Bool {
        listElements(name, in: fields).contains { equalsIgnoringASCIICase($0, token) }
    }

    static func equalsIgnoringASCIICase(_ lhs: some StringProtocol, _ rhs: some StringProtocol) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8) { lowercasedASCII($0) == lowercasedASCII($1) }
    }

    /// `text` without leading and trailing spaces and tabs (optional whitespace, RFC 9110 §5.6.3).
    static func trimmingWhitespace(_ text: Substring) -> Substring {
        let isWhitespace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isWhitespace($0) }),
            let last = text.lastIndex(where: { !isWhitespace($0) })
        else { return text[text.endIndex...] }
        return text[first...last]
    }

    private static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
