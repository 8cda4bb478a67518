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
    /// The values are scanned in place, element by element, without building lists: every
    /// upgrade request asks this of `Connection` and `Upgrade`.
    package static func hasToken(_ token: String, in name: String, fields: Fields) -> Bool {
        for field in fields where equalsIgnoringASCIICase(field.name, name) {
            var value = field.value
            let found = value.withUTF8 { bytes in
                var start = 0
                while start <= bytes.count {
                    var end = start
                    while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
                    var first = start
                    var last = end
                    while first < last, bytes[first] == UInt8(ascii: " ") || bytes[first] == UInt8(ascii: "\t") { first += 1 }
                    while last > first, bytes[last - 1] == UInt8(ascii: " ") || bytes[last - 1] == UInt8(ascii: "\t") { last -= 1 }
                    // Empty elements are dropped (RFC 9110 §5.6.1): they match no token, not even "".
                    if last > first, last - first == token.utf8.count,
                        token.utf8.elementsEqual(bytes[first..<last], by: { lowercasedASCII($0) == lowercasedASCII($1) })
                    {
                        return true
                    }
                    start = end + 1
                }
                return false
            }
            if found { return true }
        }
        return false
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
