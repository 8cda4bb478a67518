import CZlibShim

/// Compresses whole messages for permessage-deflate (RFC 7692 §7.2.1): raw DEFLATE,
/// flushed to a byte boundary, without the trailing `00 00 ff ff`.
///
/// One per connection with context takeover; without it the history is dropped after
/// every message, so one deflater can serve every connection of a loop, or compress a
/// broadcast once for all its subscribers. Not thread-safe: it belongs to one loop.
@_spi(Internals)
public final class Deflater {
    private let stream: OpaquePointer
    private let contextTakeover: Bool

    /// A deflater for a window of `1 << windowBits` bytes (8–15; 8 runs as 9, whose
    /// matches stay within 256 bytes), zlib's `memoryLevel` (1–9) and `level` (0–9).
    /// Nil if zlib cannot allocate its state.
    public init?(windowBits: Int, memoryLevel: Int = 8, level: Int = 6, contextTakeover: Bool) {
        precondition(DeflateConfiguration.windowBitsRange.contains(windowBits), "windowBits must be 8–15")
        precondition((1...9).contains(memoryLevel) && (0...9).contains(level), "memoryLevel 1–9, level 0–9")
        guard let stream = pw_deflater_create(CInt(windowBits), CInt(memoryLevel), CInt(level)) else { return nil }
        self.stream = stream
        self.contextTakeover = contextTakeover
    }

    deinit {
        pw_deflater_free(stream)
    }

    /// The room ``compress(_:into:)`` needs for a message of `count` bytes.
    public func maximumCompressedCount(for count: Int) -> Int {
        pw_deflate_bound(stream, count)
    }

    /// Compresses `message` into the start of `output`, which holds at least
    /// ``maximumCompressedCount(for:)`` bytes, and returns how many bytes it wrote;
    /// nil if zlib failed, after which the history is gone (the peer's next message
    /// then cannot refer to it: close the connection with 1011).
    public func compress(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard let out = output.baseAddress else { return nil }
        var produced = 0
        let input = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let status = pw_deflate_message(
            stream, input, message.count, out.assumingMemoryBound(to: UInt8.self), output.count, &produced)
        guard status == PW_ZLIB_OK else {
            pw_deflater_reset(stream)
            return nil
        }
        if !contextTakeover {
            pw_deflater_reset(stream)
        }
        return produced
    }

    /// Compresses `message` and appends the result to `output`; false if zlib failed.
    public func compress(_ message: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) -> Bool {
        var succeeded = false
        let compressed = [UInt8](unsafeUninitializedCapacity: maximumCompressedCount(for: message.count)) { buffer, count in
            let written = compress(message, into: UnsafeMutableRawBufferPointer(buffer))
            succeeded = written != nil
            count = written ?? 0
        }
        if output.isEmpty {
            output = compressed
        } else {
            output.append(contentsOf: compressed)
        }
        return succeeded
    }
}
