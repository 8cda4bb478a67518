import Reactor
import WebSocket

#if canImport(Glibc)
import Glibc
#endif

/// An endpoint of the publish API, `http://HOST[:PORT]/PATH`, and the request head every
/// publish to it carries: built once, so that a publish costs two copies (head and body)
/// into the connection's output and nothing else.
struct HTTPTarget: Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    /// Path and query, starting with `/`.
    let path: String
    /// The same host, port and path as a `ws://` URL (the run plan's address).
    let webSocketTwin: WebSocketURL
    /// `POST PATH HTTP/1.1` with Host, Authorization, Content-Type and Content-Length, up to
    /// and including the empty line: the body follows.
    let requestHead: [UInt8]
    let bodySize: Int

    /// Parses `url` (plain `http://` only: the API is measured without TLS) and prepares the
    /// head of a publish of `bodySize` bytes, text (`text/plain`) or binary.
    init(_ url: String, key: String, bodySize: Int, kind: MessageKind) throws {
        guard url.hasPrefix("http://") else { throw PlanError("the API URL must be http://HOST:PORT/PATH: \(url)") }
        webSocketTwin = try WebSocketURL("ws://" + url.dropFirst("http://".count))
        host = webSocketTwin.host
        port = webSocketTwin.port
        path = webSocketTwin.path
        self.bodySize = bodySize
        let hostField = port == 80 ? host : "\(host):\(port)"
        let contentType = kind == .text ? "text/plain" : "application/octet-stream"
        requestHead = Array(
            ("POST \(path) HTTP/1.1\r\nHost: \(hostField)\r\nAuthorization: Bearer \(key)\r\n"
                + "Content-Type: \(contentType)\r\nContent-Length: \(bodySize)\r\n\r\n").utf8)
    }

    var description: String { "http://\(port == 80 ? host : "\(host):\(port)")\(path)" }

    func socketAddress() throws -> SocketAddress {
        try SocketAddress(host: host, port: port)
    }

    /// The API key from PUSHWAVE_API_KEY: never from the command line, where `ps` shows it.
    static func keyFromEnvironment() throws -> String {
        guard let value = getenv("PUSHWAVE_API_KEY").map({ String(cString: $0) }), !value.isEmpty else {
            throw PlanError("publishing over HTTP needs the API key in the environment variable PUSHWAVE_API_KEY")
        }
        // A line break in the key would end the header field and start another.
        guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else { throw PlanError("PUSHWAVE_API_KEY holds control characters") }
        return value
    }
}
