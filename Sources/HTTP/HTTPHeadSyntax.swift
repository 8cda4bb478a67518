/// The grammar of an HTTP/1.x head (RFC 9112 §2–5), split into lines and fields.
///
/// Strict where laxness invites request smuggling or header injection: no
/// whitespace between a field name and its colon, no obsolete line folding,
/// no control characters in values, no CR except before LF.
package enum HTTPHeadSyntax {
    /// Why a head could not be parsed.
    package enum Failure: Error, Equatable {
        case malformed
        case unsupportedVersion

        package var status: HTTPStatus {
            switch self {
            case .malformed: .badRequest
            case .unsupportedVersion: .httpVersionNotSupported
            }
        }
    }

    /// The start line and the field lines of a complete head, without line
    /// ends; leading empty lines are skipped (RFC 9112 §2.2).
    package static func lines(of head: [UInt8]) throws(Failure) -> (startLine: ArraySlice<UInt8>, fieldLines: [ArraySlice<UInt8>]) {
        var lines: [ArraySlice<UInt8>] = []
        lines.reserveCapacity(16)  // a typical head's lines, without growing on the way
        var lineStart = head.startIndex
        for index in head.indices where head[index] == UInt8(ascii: "\n") {
            var line = head[lineStart..<index]
            if line.last == UInt8(ascii: "\r") {
                line = line.dropLast()
            }
            if line.contains(UInt8(ascii: "\r")) { throw .malformed }
            lines.append(line)
            lineStart = index + 1
        }
        // The head ends with an empty line; it ends nothing further.
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let startIndex = lines.firstIndex(where: { !$0.isEmpty }) else { throw .malformed }
        let fieldLines = Array(lines[(startIndex + 1)...])
        return (lines[startIndex], fieldLines)
    }

    /// Parses `name: value` lines into fields, values trimmed of whitespace.
    package static func fields(_ lines: [ArraySlice<UInt8>]) throws(Failure) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(lines.count)
        for line in lines {
            fields.append(try field(line))
        }
        return fields
    }

    package static func field(_ line: ArraySlice<UInt8>) throws(Failure) -> (name: String, value: String) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformed }
        let name = line[line.startIndex..<colon]
        // Also rejects a line starting with whitespace: obsolete line folding (§5.2).
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw .malformed }
        let value = trimmingWhitespace(line[(colon + 1)...])
        guard value.allSatisfy(isFieldValueByte) else { throw .malformed }
        return (string(name), string(value))
    }

    /// Parses `HTTP/x.y`; a well-formed version other than 1.x is unsupported.
    package static func version(_ bytes: ArraySlice<UInt8>) throws(Failure) -> HTTPVersion {
        let start = bytes.startIndex + 5
        guard bytes.count == 8, bytes[bytes.startIndex] == UInt8(ascii: "H"), bytes[start - 4] == UInt8(ascii: "T"),
            bytes[start - 3] == UInt8(ascii: "T"), bytes[start - 2] == UInt8(ascii: "P"), bytes[start - 1] == UInt8(ascii: "/")
        else { throw .malformed }
        let major = bytes[start], dot = bytes[start + 1], minor = bytes[start + 2]
        guard isDigit(major), dot == UInt8(ascii: "."), isDigit(minor) else { throw .malformed }
        let version = HTTPVersion(major: Int(major - UInt8(ascii: "0")), minor: Int(minor - UInt8(ascii: "0")))
        guard version.major == 1 else { throw .unsupportedVersion }
        return version
    }

    /// tchar (RFC 9110 §5.6.2): the characters of methods and field names.
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        // Spelled out rather than looked up in a list: this runs for every byte of every
        // method and field name.
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// Field value characters (RFC 9110 §5.5): visible ASCII, space, tab and
    /// obs-text (0x80–0xFF); no other control characters.
    package static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F)
    }

    /// Visible ASCII, the characters of a request target.
    package static func isVisibleASCII(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }

    package static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// `bytes` without leading and trailing spaces and tabs (optional whitespace,
    /// RFC 9110 §5.6.3). Works on any byte collection: field lines, and the UTF-8 view of a
    /// list element (`Substring(trimmingWhitespace(text.utf8))`).
    package static func trimmingWhitespace<Bytes: BidirectionalCollection>(_ bytes: Bytes) -> Bytes.SubSequence
    where Bytes.Element == UInt8 {
        let isWhitespace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = bytes.firstIndex(where: { !isWhitespace($0) }),
            let last = bytes.lastIndex(where: { !isWhitespace($0) })
        else { return bytes[bytes.endIndex...] }
        return bytes[first...last]
    }

    /// Decodes bytes as UTF-8; obs-text that is not UTF-8 becomes U+FFFD.
    package static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
