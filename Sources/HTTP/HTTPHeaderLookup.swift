/// Case-insensitive lookups over an ordered list of header fields, shared by
/// requests and responses. Field names are ASCII tokens, so ASCII case
/// folding is all that is needed.
package enum HTTPHeaderLookup {
    package typealias Fields = [(name: String, value: String)]

    /// The values of every field called `name`, in order.
    package static func values(_ name: String, in fields: Fields) -> [String] {
        fields.filter { equalsIgnoringASCIICase($0.name, name) }.map(\.value)
    }

    /// The first value of the field called `name`.
    package static func value(_ name: String, in fields: Fields) -> String? {
        fields.first { equalsIgnoringASCIICase($0.name, name) }?.value
    }

    /// The comma-separated elements of every field called `name`, trimmed,
    /// empty elements dropped (RFC 9110 §5.6.1).
    package static func listElements(_ name: String, in fields: Fields) -> [Substring] {
        values(name, in: fields).flatMap { value in
            value.split(separator: ",").map { Substring(HTTPHeadSyntax.trimmingWhitespace($0.utf8)) }.filter { !$0.isEmpty }
        }
    }

    /// Whether `token` is an element of the list fields called `name`, ignoring case.
    package static func hasToken(_ token: String, in name: String, fields: Fields) -> Bool {
        listElements(name, in: fields).contains { equalsIgnoringASCIICase($0, token) }
    }

    package static func equalsIgnoringASCIICase(_ lhs: some StringProtocol, _ rhs: some StringProtocol) -> Bool {
        // Most fields compared are other fields: different lengths settle it at once.
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        // Native strings compare over their contiguous bytes, far faster than through the view.
        let contiguous = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in
                for index in 0..<left.count where lowercasedASCII(left[index]) != lowercasedASCII(right[index]) { return false }
                return true
            }
        }
        if let contiguous, let equal = contiguous { return equal }
        return lhs.utf8.elementsEqual(rhs.utf8) { lowercasedASCII($0) == lowercasedASCII($1) }
    }

    private static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
