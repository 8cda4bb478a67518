/// One parameter of an extension in `Sec-WebSocket-Extensions`: a name, and a value
/// when it has one (quoted-string values are unquoted).
@_spi(Internals)
public struct ExtensionParameter: Sendable, Equatable {
    /// Lowercased: tokens compare case-insensitively.
    public var name: String
    public var value: String?

    public init(name: String, value: String? = nil) {
        self.name = name
        self.value = value
    }
}

/// One element of a `Sec-WebSocket-Extensions` list: an extension and its parameters.
@_spi(Internals)
public struct ExtensionOffer: Sendable, Equatable {
    /// Lowercased: tokens compare case-insensitively.
    public var name: String
    public var parameters: [ExtensionParameter]

    public init(name: String, parameters: [ExtensionParameter] = []) {
        self.name = name
        self.parameters = parameters
    }
}

/// An element of the list as parsed: an extension, or bytes that break the grammar.
@_spi(Internals)
public enum ExtensionElement: Sendable, Equatable {
    case offer(ExtensionOffer)
    /// Only this element is lost: the parser resumes after the next comma outside quotes.
    case malformed
}

/// The `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1, list rules of RFC 9110 §5.6):
///
///     extension-list = 1#extension
///     extension      = token *( OWS ";" OWS extension-param )
///     extension-param = token [ OWS "=" OWS ( token / quoted-string ) ]
///
/// A quoted value must unquote to a token. Empty list elements are skipped, as RFC 9110
/// asks of recipients. Several header lines are joined with commas before parsing.
@_spi(Internals)
public enum ExtensionHeader {
    /// Every element of `value`, in order.
    public static func parse(_ value: String) -> [ExtensionElement] {
        var scanner = ExtensionScanner(Array(value.utf8))
        var elements: [ExtensionElement] = []
        while scanner.skipToElement() {
            if let offer = scanner.extensionElement() {
                elements.append(.offer(offer))
            } else {
                elements.append(.malformed)
                scanner.skipPastElement()
            }
        }
        return elements
    }
}

/// A cursor over the header's bytes, one grammar rule per method. Each rule returns nil
/// when the bytes do not match it; the caller then skips the element.
struct ExtensionScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Skips whitespace and empty elements; false at the end of the header.
    mutating func skipToElement() -> Bool {
        while let byte = current, byte == UInt8(ascii: ",") || Self.isWhitespace(byte) {
            index += 1
        }
        return current != nil
    }

    /// Skips to just past the next comma that is not inside a quoted string.
    mutating func skipPastElement() {
        var inQuotes = false
        while let byte = current {
            index += 1
            if inQuotes && byte == UInt8(ascii: "\\") {
                index += 1
            } else if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
            } else if byte == UInt8(ascii: ","), !inQuotes {
                return
            }
        }
    }

    /// `token *( OWS ";" OWS extension-param )`, ending at a comma (consumed) or the end.
    mutating func extensionElement() -> ExtensionOffer? {
        guard let name = token() else { return nil }
        var offer = ExtensionOffer(name: name.lowercased())
        while true {
            skipWhitespace()
            switch current {
            case nil:
                return offer
            case UInt8(ascii: ","):
                index += 1
                return offer
            case UInt8(ascii: ";"):
                index += 1
                skipWhitespace()
                guard let parameter = parameter() else { return nil }
                offer.parameters.append(parameter)
            default:
                return nil
            }
        }
    }

    /// `token [ OWS "=" OWS ( token / quoted-string ) ]`.
    private mutating func parameter() -> ExtensionParameter? {
        guard let name = token() else { return nil }
        let afterName = index
        skipWhitespace()
        guard current == UInt8(ascii: "=") else {
            index = afterName
            return ExtensionParameter(name: name.lowercased())
        }
        index += 1
        skipWhitespace()
        let value = current == UInt8(ascii: "\"") ? quotedToken() : token()
        guard let value else { return nil }
        return ExtensionParameter(name: name.lowercased(), value: value)
    }

    private mutating func token() -> String? {
        let start = index
        while let byte = current, Self.isTokenByte(byte) {
            index += 1
        }
        guard index > start else { return nil }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// A quoted-string whose unescaped content is a token (RFC 6455 §9.1).
    private mutating func quotedToken() -> String? {
        index += 1
        var content: [UInt8] = []
        while let byte = current {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard !content.isEmpty, content.allSatisfy(Self.isTokenByte) else { return nil }
                return String(decoding: content, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { return nil }
                index += 1
                content.append(escaped)
            default:
                content.append(byte)
            }
        }
        return nil
    }

    private mutating func skipWhitespace() {
        while let byte = current, Self.isWhitespace(byte) {
            index += 1
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// RFC 9110 §5.6.2 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
