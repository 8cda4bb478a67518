/// The start line and header fields of an HTTP request.
public struct HTTPRequestHead: Sendable {
    /// The method, such as `GET`; case-sensitive.
    public var method: String
    /// The request target as sent, such as `/chat?room=1`.
    public var target: String
    /// The target's path, without the query: `/chat`. For an absolute-form
    /// target (`http://host/chat`) the path after the authority.
    public var path: String
    /// The part of the target after `?`, or nil when there is no `?`.
    public var query: String?
    /// The protocol version from the request line.
    public var version: HTTPVersion
    /// The header fields in the order received; names keep their case.
    public var headers: [(name: String, value: String)]

    /// Creates a head; `path` and `query` are derived from `target`.
    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: [(name: String, value: String)]) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        (self.path, self.query) = Self.splitTarget(target)
    }

    /// The value of the first field called `name`, ignoring case.
    public func value(_ name: String) -> String? {
        HTTPHeaderLookup.value(name, in: headers)
    }

    /// The values of every field called `name`, ignoring case, in order.
    public func values(_ name: String) -> [String] {
        HTTPHeaderLookup.values(name, in: headers)
    }

    /// Whether `token` appears, ignoring case, in the comma-separated lists of
    /// the fields called `name` (all of them, when the field is repeated).
    public func hasToken(_ token: String, in name: String) -> Bool {
        HTTPHeaderLookup.hasToken(token, in: name, fields: headers)
    }

    /// The subprotocols the client offers in `Sec-WebSocket-Protocol`, in its order of preference.
    public var requestedSubprotocols: [String] {
        HTTPHeaderLookup.listElements("Sec-WebSocket-Protocol", in: headers).map(String.init)
    }

    /// Splits a request target into path and query (RFC 9112 §3.2).
    ///
    /// Works on the UTF-8 view (the delimiters are ASCII): every request goes through here, and
    /// searching characters would cost a grapheme break check per byte.
    package static func splitTarget(_ target: String) -> (path: String, query: String?) {
        let utf8 = target.utf8
        var pathAndQuery = utf8[...]
        if utf8.first != UInt8(ascii: "/"), let scheme = target.firstRange(of: "://") {
            // Absolute form: skip the scheme and authority.
            let afterScheme = utf8[scheme.upperBound...]
            pathAndQuery = afterScheme.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
                .map { afterScheme[$0...] } ?? utf8[utf8.endIndex...]
        }
        guard let questionMark = pathAndQuery.firstIndex(of: UInt8(ascii: "?")) else {
            return (pathAndQuery.isEmpty ? "/" : String(Substring(pathAndQuery)), nil)
        }
        let path = pathAndQuery[..<questionMark]
        return (path.isEmpty ? "/" : String(Substring(path)), String(Substring(pathAndQuery[utf8.index(after: questionMark)...])))
    }

    /// Parses a complete head: `method SP target SP version`, then fields.
    package init(parsing head: [UInt8]) throws(HTTPHeadSyntax.Failure) {
        let (startLine, fieldLines) = try HTTPHeadSyntax.lines(of: head)
        // Exactly two spaces, found without building an array of parts.
        guard let firstSpace = startLine.firstIndex(of: UInt8(ascii: " ")),
            let secondSpace = startLine[(firstSpace + 1)...].firstIndex(of: UInt8(ascii: " ")),
            !startLine[(secondSpace + 1)...].contains(UInt8(ascii: " "))
        else { throw .malformed }
        let method = startLine[..<firstSpace]
        let target = startLine[(firstSpace + 1)..<secondSpace]
        guard !method.isEmpty, method.allSatisfy(HTTPHeadSyntax.isTokenByte),
            !target.isEmpty, target.allSatisfy(HTTPHeadSyntax.isVisibleASCII)
        else { throw .malformed }
        let version = try HTTPHeadSyntax.version(startLine[(secondSpace + 1)...])
        let headers = try HTTPHeadSyntax.fields(fieldLines)
        self.init(
            method: HTTPHeadSyntax.string(method), target: HTTPHeadSyntax.string(target),
            version: version, headers: headers)
    }
}
