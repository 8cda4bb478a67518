/// A topic's messages of one loop iteration, compressed once for all the subscribers that
/// compress without context takeover (RFC 7692 §7.1.1.1).
///
/// Each message is compressed on its own, with the loop's shared compressor and no history,
/// so the result is valid for every such subscriber whatever window it negotiated, as long
/// as the window used is no larger than its `server_max_window_bits`: the batch uses the
/// smallest window among the subscribers when the iteration's first message arrives.
/// Subscribers with a smaller window joining later, and subscribers whose own compressor
/// keeps a context (an independent message would desynchronise it from their peer's
/// decompressor), get the plain batch.
struct CompressedBatch {
    /// Frames (header with RSV1 when compressed, payload) since the last flush.
    private(set) var frames: [UInt8] = []
    private var messageCount = 0
    /// The window the batch was compressed with, 0 before its first message.
    private var windowBits = 0
    /// Subscribers taking compressed batches, per window size (bits − 8); empty when none ever did.
    private var subscribersByWindow: [Int] = []

    /// Records a subscriber joining (`delta` 1) or leaving (−1).
    mutating func count(_ compression: SendCompression, by delta: Int) {
        guard case .shared(let bits) = compression else { return }
        if subscribersByWindow.isEmpty {
            subscribersByWindow = Array(repeating: 0, count: DeflateConfiguration.windowBitsRange.count)
        }
        subscribersByWindow[Int(bits) - DeflateConfiguration.windowBitsRange.lowerBound] += delta
    }

    /// The smallest window of the current compressing subscribers, nil when there are none.
    private var smallestWindow: Int? {
        subscribersByWindow.firstIndex { $0 > 0 }.map { $0 + DeflateConfiguration.windowBitsRange.lowerBound }
    }

    /// Adds the message that is number `plainCount` of the plain batch, compressed when
    /// that makes it smaller. Once the batch has fallen behind the plain one it stays out
    /// of use until the flush.
    mutating func append(_ payload: UnsafeRawBufferPointer, opcode: Opcode, plainCount: Int, in context: WebSocketContext) {
        guard messageCount == plainCount else { return }
        if messageCount == 0 {
            guard let smallest = smallestWindow else { return }
            windowBits = smallest
        }
        messageCount += 1
        if let compressed = compress(payload, in: context) {
            Topic.appendFrame(compressed, opcode: opcode, compressed: true, to: &frames)
            context.compression.releaseLargeScratch()
        } else {
            Topic.appendFrame(payload, opcode: opcode, compressed: false, to: &frames)
        }
    }

    /// The compressed form of `payload`, when above the threshold and smaller.
    private func compress(_ payload: UnsafeRawBufferPointer, in context: WebSocketContext) -> UnsafeRawBufferPointer? {
        guard payload.count >= context.configuration.deflate.thresholdBytes,
            let deflater = context.compression.deflater(windowBits: windowBits, messageBytes: payload.count),
            let compressed = context.compression.compress(payload, with: deflater)
        else { return nil }
        context.statistics.topicCompressions += 1
        guard compressed.count < payload.count else { return nil }
        context.statistics.messagesCompressed += 1
        context.statistics.bytesBeforeCompression += payload.count
        context.statistics.bytesAfterCompression += compressed.count
        return compressed
    }

    /// Whether a subscriber compressing as `compression` gets this batch rather than the plain one.
    func suits(_ compression: SendCompression, plainCount: Int) -> Bool {
        guard let window = usableWindow(plainCount: plainCount) else { return false }
        return Self.suits(compression, window: window)
    }

    /// The window the batch was compressed with when it holds every message of the plain
    /// batch (of `plainCount` messages), nil when it is not in use.
    func usableWindow(plainCount: Int) -> Int? {
        messageCount > 0 && messageCount == plainCount ? windowBits : nil
    }

    /// Whether a subscriber compressing as `compression` can take a batch compressed with `window`.
    static func suits(_ compression: SendCompression, window: Int) -> Bool {
        guard case .shared(let bits) = compression else { return false }
        return Int(bits) >= window
    }

    /// After the flush: a new, empty batch, keeping moderate capacity.
    mutating func reset() {
        frames.removeAll(keepingCapacity: frames.capacity <= 64 * 1024)
        messageCount = 0
        windowBits = 0
    }
}
