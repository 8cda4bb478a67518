/// An allowed `Origin` of a WebSocket upgrade: `https://app.example.com`, or with a wildcard
/// for one or more leading labels, `https://*.example.com` (which does not match
/// `https://example.com` itself). Scheme and host compare without case; a port, when given,
/// must match exactly.
///
/// The defence against cross-site WebSocket hijacking when a deployment authenticates with
/// cookies: a browser always sends the page's origin on an upgrade.
public struct OriginPattern: Sendable, Equatable, CustomStringConvertible {
    public let description: String
    private let scheme: String
    private let host: String
    private let wildcard: Bool

    /// `scheme://host[:port]`, the host optionally starting with `*.`; nil when malformed.
    public init?(_ text: String) {
        let lowered = text.lowercased()
        guard let separator = lowered.firstRange(of: "://") else { return nil }
        scheme = String(lowered[..<separator.lowerBound])
        var rest = String(lowered[separator.upperBound...])
        guard !scheme.isEmpty, !rest.isEmpty, !rest.contains("/") else { return nil }
        wildcard = rest.hasPrefix("*.")
        if wildcard { rest.removeFirst(2) }
        guard !rest.isEmpty, !rest.contains("*") else { return nil }
        host = rest
        description = text
    }

    public func matches(_ origin: String) -> Bool {
        let lowered = origin.lowercased()
        guard let separator = lowered.firstRange(of: "://"), lowered[..<separator.lowerBound] == scheme else { return false }
        let rest = lowered[separator.upperBound...]
        if wildcard {
            return rest.hasSuffix("." + host) && rest.count > host.count + 1
        }
        return rest == host
    }
}
