/// Where a Redis server is: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// Why a URL was refused.
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public var host: String
    public var port: Int
    /// The database to `SELECT` (0 by default).
    public var database: Int
    /// The password for `AUTH`, when the URL has one.
    public var password: String?

    public init(host: String, port: Int = 6379, database: Int = 0, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.password = password
    }

    public init(parsing text: String) throws(ParseError) {
        guard text.hasPrefix("redis://") else { throw ParseError(description: "\(text): expected redis://HOST[:PORT][/DB]") }
        var rest = Substring(text.dropFirst("redis://".count))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { throw ParseError(description: "\(text): the database must be a number") }
                database = number
            }
            rest = rest[..<slash]
        }
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            // `redis://:secret@host` and `redis://user:secret@host`: only the password is used.
            let secret = credentials.firstIndex(of: ":").map { credentials[credentials.index(after: $0)...] } ?? credentials
            password = secret.isEmpty ? nil : String(secret)
            rest = rest[rest.index(after: at)...]
        }
        let (host, port) = try Self.hostAndPort(rest, in: text)
        self.init(host: host, port: port, database: database, password: password)
    }

    private static func hostAndPort(_ authority: Substring, in text: String) throws(ParseError) -> (String, Int) {
        var host = authority
        var port = 6379
        // The last colon separates the port unless it is inside an IPv6 literal's brackets.
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw ParseError(description: "\(text): the port must be 1...65535")
            }
            port = number
            host = authority[..<colon]
        }
        guard !host.isEmpty else { throw ParseError(description: "\(text): no host") }
        return (String(host), port)
    }

    /// The URL without its password, for logs.
    public var description: String {
        "redis://\(host):\(port)" + (database == 0 ? "" : "/\(database)")
    }
}
