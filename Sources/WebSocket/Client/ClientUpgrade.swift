import Reactor
import HTTP

/// A client's HTTP upgrade in flight: the request it sent and the parser for the answer.
/// Exists only during the handshake.
final class ClientUpgrade {
    let key: String
    let request: [UInt8]
    let subprotocols: [String]
    var parser: HTTPResponseParser

    init(url: WebSocketURL, subprotocols: [String], headers: [(name: String, value: String)], maxHeaderBytes: Int) {
        key = ClientHandshake.randomKey()
        request = ClientHandshake.request(
            host: url.hostHeader, path: url.path, key: key, subprotocols: subprotocols, extraHeaders: headers)
        self.subprotocols = subprotocols
        parser = HTTPResponseParser(maxHeaderBytes: maxHeaderBytes)
    }
}

/// A parsed `ws://host:port/path` or `wss://host:port/path` address. Numeric hosts and
/// `localhost` only, as for `SocketAddress`.
public struct WebSocketURL: Sendable, CustomStringConvertible {
    /// The host as written (an IPv6 host keeps its brackets).
    public let host: String
    /// The port; 80 when the URL has none.
    public let port: Int
    /// Path and query, starting with `/`.
    public let path: String
    /// True for `wss://`: the connection speaks TLS.
    public let isSecure: Bool

    /// Parses `ws://host[:port][/path][?query]`.
    ///
    /// - Throws: ``WebSocketURLError`` for another scheme, a missing host or a bad port.
    public init(_ string: String) throws {
        if string.hasPrefix("wss://") {
            isSecure = true
        } else if string.hasPrefix("ws://") {
            isSecure = false
        } else {
            throw WebSocketURLError("only ws:// and wss:// URLs are supported: \(string)")
        }
        let defaultPort = isSecure ? 443 : 80
        let rest = string.dropFirst(isSecure ? "wss://".count : "ws://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let remainder = rest.dropFirst(authority.count)
        path = remainder.isEmpty ? "/" : (remainder.hasPrefix("?") ? "/" + remainder : String(remainder))
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw WebSocketURLError("bad IPv6 host in \(string)") }
            host = String(authority[authority.startIndex...close])
            let after = authority[authority.index(after: close)...]
            port = try Self.port(after.hasPrefix(":") ? after.dropFirst() : nil, default: defaultPort, in: string)
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = try Self.port(authority[authority.index(after: colon)...], default: defaultPort, in: string)
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty else { throw WebSocketURLError("missing host in \(string)") }
    }

    private static func port(_ text: Substring?, default defaultPort: Int, in string: String) throws -> Int {
        guard let text else { return defaultPort }
        guard let port = Int(text), (1...65535).contains(port) else { throw WebSocketURLError("bad port in \(string)") }
        return port
    }

    /// The `Host` header value: the port is left out when it is the default.
    var hostHeader: String { port == (isSecure ? 443 : 80) ? host : "\(host):\(port)" }

    /// The host as TLS names it (SNI, certificate check): without an IPv6 address's brackets.
    var tlsServerName: String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// The URL, with the port left out when it is the scheme's default.
    public var description: String { "\(isSecure ? "wss" : "ws")://\(hostHeader)\(path)" }

    /// The address to connect to.
    public func socketAddress() throws -> SocketAddress {
        try SocketAddress(host: host, port: port)
    }
}

/// A string that ``WebSocketURL/init(_:)`` cannot parse.
public struct WebSocketURLError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, with the string.
    public let description: String
    init(_ description: String) { self.description = description }
}
