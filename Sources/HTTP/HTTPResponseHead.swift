/// The status line and header fields of an HTTP response (the server's
/// answer to a client's upgrade request).
package struct HTTPResponseHead: Sendable {
    package var version: HTTPVersion
    package var status: HTTPStatus
    package var reasonPhrase: String
    package var headers: [(name: String, value: String)]

    package func value(_ name: String) -> String? {
        HTTPHeaderLookup.value(name, in: headers)
    }

    package func values(_ name: String) -> [String] {
        HTTPHeaderLookup.values(name, in: headers)
    }

    package func hasToken(_ token: String, in name: String) -> Bool {
        HTTPHeaderLookup.hasToken(token, in: name, fields: headers)
    }

    /// Parses a complete head: `version SP status [SP reason]`, then fields.
    /// The reason phrase may be empty or absent, as some servers send it.
    package init(parsing head: [UInt8]) throws(HTTPHeadSyntax.Failure) {
        let (statusLine, fieldLines) = try HTTPHeadSyntax.lines(of: head)
        let parts = statusLine.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { throw .malformed }
        let version = try HTTPHeadSyntax.version(parts[0])
        let statusDigits = parts[1]
        guard statusDigits.count == 3, statusDigits.allSatisfy(HTTPHeadSyntax.isDigit) else { throw .malformed }
        let status = statusDigits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        let reason = parts.count == 3 ? parts[2] : []
        guard reason.allSatisfy(HTTPHeadSyntax.isFieldValueByte) else { throw .malformed }
        self.version = version
        self.status = HTTPStatus(code: status)
        self.reasonPhrase = HTTPHeadSyntax.string(reason)
        self.headers = try HTTPHeadSyntax.fields(fieldLines)
    }
}
