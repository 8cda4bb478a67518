/// Bounds on what the JSON parser accepts, so that an untrusted document cannot exhaust the
/// stack (nesting) or memory (size).
public struct JSONLimits: Sendable, Equatable {
    /// The deepest nesting of arrays and objects; the top-level value is at depth 1.
    public var maximumDepth: Int
    /// The largest document, in bytes.
    public var maximumBytes: Int

    /// Limits for documents from the network: 64 levels, 1 MiB.
    public static let `default` = JSONLimits(maximumDepth: 64, maximumBytes: 1 << 20)

    /// Limits of `maximumDepth` levels and `maximumBytes` bytes.
    public init(maximumDepth: Int, maximumBytes: Int) {
        self.maximumDepth = maximumDepth
        self.maximumBytes = maximumBytes
    }
}
