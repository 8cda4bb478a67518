/// Whether and how messages are compressed with permessage-deflate (RFC 7692).
///
/// The same configuration serves both roles: the `server…` and `client…` fields name the
/// side whose compressor they constrain, as the RFC's parameters do. A server applies them
/// to what it accepts and replies; a client puts them in its offer.
///
/// ## Memory per connection
///
/// zlib's own figures (`zconf.h`): a compressor holds
/// `(1 << (windowBits + 2)) + (1 << (memoryLevel + 9))` bytes plus a few KiB of state,
/// and a decompressor `1 << windowBits` bytes plus about 7 KiB.
///
/// | window bits | memory level | compressor | decompressor |
/// |---|---|---|---|
/// | 15 | 8 | 256 KiB | 39 KiB |
/// | 12 | 5 | 32 KiB | 11 KiB |
/// | 10 | 3 | 8 KiB | 8 KiB |
/// | 9 (or 8) | 1 | 3 KiB | 7.5 KiB |
///
/// zlib cannot compress with a 256-byte window: 8 runs as 9, whose matches still reach
/// no further than 250 bytes back, so the peer's 256-byte window suffices.
///
/// With context takeover each connection keeps its compressor and decompressor for its
/// whole life. Without it (`…NoContextTakeover`) they are reset after every message, so
/// they can be shared by every connection of a loop: choose
/// `clientNoContextTakeover` on a server with many connections, and
/// `serverNoContextTakeover` when broadcasts are compressed once for all subscribers.
public struct DeflateConfiguration: Sendable, Equatable {
    /// Whether permessage-deflate is offered (client) or accepted (server) at all.
    public var isEnabled: Bool
    /// Messages shorter than this many bytes are sent uncompressed: below it, the
    /// compressed form is seldom smaller and never worth the time.
    public var thresholdBytes: Int
    /// The server's compressor forgets its history after each message.
    public var serverNoContextTakeover: Bool
    /// The client's compressor forgets its history after each message.
    public var clientNoContextTakeover: Bool
    /// The largest LZ77 window the server's compressor may use, as a power of two, 8–15.
    public var serverMaxWindowBits: Int
    /// The largest LZ77 window the client's compressor may use, as a power of two, 8–15.
    /// A server configured below 15 declines offers that cannot limit the client's window.
    public var clientMaxWindowBits: Int
    /// zlib's `memLevel` for this side's compressor, 1–9: memory for speed and ratio.
    public var memoryLevel: Int
    /// zlib's compression level for this side's compressor, 0–9 (6 is zlib's default).
    public var compressionLevel: Int

    /// The valid window sizes, as powers of two (RFC 7692 §7.1.2).
    public static let windowBitsRange = 8...15

    /// A configuration; the defaults are the RFC's (context takeover, 32 KiB windows)
    /// and zlib's (memory level 8, level 6). Out-of-range values are programming errors.
    public init(
        isEnabled: Bool = false, thresholdBytes: Int = 128,
        serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
        serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15,
        memoryLevel: Int = 8, compressionLevel: Int = 6
    ) {
        precondition(Self.windowBitsRange.contains(serverMaxWindowBits), "serverMaxWindowBits must be 8–15")
        precondition(Self.windowBitsRange.contains(clientMaxWindowBits), "clientMaxWindowBits must be 8–15")
        precondition((1...9).contains(memoryLevel), "memoryLevel must be 1–9")
        precondition((0...9).contains(compressionLevel), "compressionLevel must be 0–9")
        precondition(thresholdBytes >= 0, "thresholdBytes must not be negative")
        self.isEnabled = isEnabled
        self.thresholdBytes = thresholdBytes
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.memoryLevel = memoryLevel
        self.compressionLevel = compressionLevel
    }
}
