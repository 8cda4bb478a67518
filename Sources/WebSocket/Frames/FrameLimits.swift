/// Size limits applied to incoming frames and messages.
///
/// A peer that announces a frame or message beyond a limit is failed with
/// close code 1009 as soon as the announcement is seen, before anything is
/// buffered. Control frames are bounded by the protocol itself (125 bytes) and
/// are not subject to these limits.
public struct FrameLimits: Hashable, Sendable {
    /// The largest size either limit can take: 2 GiB − 1. Larger values are clamped.
    public static let largestSupportedSize = Int(Int32.max)

    /// The default for both limits: 16 MiB.
    public static let defaultSize = 16 * 1024 * 1024

    /// The largest payload a single data frame may announce.
    public var maxFrameSize: Int
    /// The largest total payload of a message, summed over its fragments.
    public var maxMessageSize: Int

    /// Creates limits; negative values count as zero.
    public init(maxFrameSize: Int = FrameLimits.defaultSize, maxMessageSize: Int = FrameLimits.defaultSize) {
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
    }

    /// `size` brought into `0...largestSupportedSize`, so that sizes fit 32 bits.
    static func clamped(_ size: Int) -> UInt32 {
        UInt32(min(max(size, 0), largestSupportedSize))
    }
}
