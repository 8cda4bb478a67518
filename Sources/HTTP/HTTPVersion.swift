/// The protocol version of an HTTP message, such as 1.1.
public struct HTTPVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The digit before the dot.
    public var major: Int
    /// The digit after the dot.
    public var minor: Int

    /// Creates a version such as `HTTPVersion(major: 1, minor: 1)`.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0, which cannot upgrade to WebSocket.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1, the version WebSocket upgrades require.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// Orders versions by major, then minor number.
    public static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    /// The version as written on the start line, such as `HTTP/1.1`.
    public var description: String { "HTTP/\(major).\(minor)" }
}
