/// The permessage-deflate state that one loop's connections share (RFC 7692 §7.2): the
/// compressors and the decompressor of every connection without context takeover, and the
/// scratch memory they write into.
///
/// Without context takeover zlib forgets a message's history once it is done, so one
/// compressor per window size and one decompressor serve the whole loop, and an idle
/// compressed connection owns no zlib state. A message is inflated only once it has
/// arrived whole (its compressed bytes are assembled by the frame parser, bounded by the
/// message limit), so the shared decompressor never holds two messages at once.
/// Confined to the loop's thread.
final class LoopCompression {
    let configuration: DeflateConfiguration
    /// For messages of up to ``smallMessageBytes``, indexed by window bits − 8; created on first use.
    private var smallMessageDeflaters: [Deflater?] = Array(repeating: nil, count: DeflateConfiguration.windowBitsRange.count)
    /// For larger messages, with the configured memory level.
    private var largeMessageDeflaters: [Deflater?] = Array(repeating: nil, count: DeflateConfiguration.windowBitsRange.count)
    private var sharedInflater: Inflater?
    /// Where messages are compressed before they are framed.
    private var scratch = MessageBuffer()
    /// The message being delivered, inflated. Reused from message to message.
    private(set) var inflated = MessageBuffer()

    /// Above this, scratch memory is freed after each message rather than kept for the next.
    private static let keptCapacity = 64 * 1024

    /// Messages up to this size are compressed with at most ``smallMessageMemoryLevel``.
    ///
    /// Without context takeover a compressor is reset after every message, and zlib's reset
    /// clears its hash table: 2^(memLevel + 8) bytes, 64 KiB at the default memLevel 8. Echoing
    /// 1 KiB JSON messages, that memset was 31% of the server's instructions (callgrind:
    /// 193k instructions per echo, 134k with this). A 2,048-entry table (memLevel 4, 4 KiB to
    /// clear) finds the same matches in messages this small: JSON of 1 and 4 KiB compresses
    /// to within 1% of memLevel 8 (zlib levels 1 and 6).
    static let smallMessageBytes = 8 * 1024
    static let smallMessageMemoryLevel = 4

    init(configuration: DeflateConfiguration) {
        self.configuration = configuration
    }

    /// The loop's compressor for `windowBits` without context takeover, suited to a message
    /// of `messageBytes`; nil if zlib has no memory.
    func deflater(windowBits: Int, messageBytes: Int) -> Deflater? {
        let index = windowBits - DeflateConfiguration.windowBitsRange.lowerBound
        let small = messageBytes <= Self.smallMessageBytes
        if let deflater = small ? smallMessageDeflaters[index] : largeMessageDeflaters[index] { return deflater }
        let memoryLevel = small ? min(configuration.memoryLevel, Self.smallMessageMemoryLevel) : configuration.memoryLevel
        let created = Deflater(
            windowBits: windowBits, memoryLevel: memoryLevel, level: configuration.compressionLevel, contextTakeover: false)
        if small {
            smallMessageDeflaters[index] = created
        } else {
            largeMessageDeflaters[index] = created
        }
        return created
    }

    /// The loop's decompressor without context takeover. Its 32 KiB window accepts every
    /// smaller one, so one serves every negotiated `client_max_window_bits`.
    func inflater() -> Inflater? {
        if let sharedInflater { return sharedInflater }
        sharedInflater = Inflater(windowBits: 15, contextTakeover: false)
        return sharedInflater
    }

    /// Compresses `message` with `deflater` into the scratch buffer; the result is valid
    /// until the next call. Nil if zlib failed.
    func compress(_ message: UnsafeRawBufferPointer, with deflater: Deflater) -> UnsafeRawBufferPointer? {
        let bound = deflater.maximumCompressedCount(for: message.count)
        scratch.truncate(to: 0)
        scratch.reserve(bound, limit: bound)
        guard let base = scratch.baseAddress else { return nil }
        guard let count = deflater.compress(message, into: UnsafeMutableRawBufferPointer(start: base, count: bound)) else {
            return nil
        }
        return UnsafeRawBufferPointer(start: base, count: count)
    }

    /// Frees the scratch memory of an unusually large message.
    func releaseLargeScratch() {
        if scratch.capacity > Self.keptCapacity { scratch.deallocate() }
    }

    /// Inflates a whole compressed message into ``inflated``, producing at most `limit` bytes.
    func inflate(_ payload: UnsafeRawBufferPointer, with inflater: Inflater, limit: Int) -> InflateStatus {
        // Taken out and stored back: the buffer is a value holding a pointer.
        var output = inflated
        inflated = MessageBuffer()
        output.truncate(to: 0)
        inflater.startMessage(limit: limit)
        var status = inflater.inflate(payload, into: &output)
        if status == .ok { status = inflater.finishMessage(into: &output) }
        inflated = output
        return status
    }

    /// After the inflated message was delivered: keeps its memory for the next one unless large.
    func recycleInflated() {
        if inflated.capacity > Self.keptCapacity {
            inflated.deallocate()
        } else {
            inflated.truncate(to: 0)
        }
    }

    deinit {
        scratch.deallocate()
        inflated.deallocate()
    }
}
