import Reactor

/// One topic on one loop: its subscribers, and the frames published to it during the current
/// loop iteration, encoded once and sent to every subscriber in one write when the iteration
/// ends.
///
/// At the flush the batch becomes one ``SharedBuffer`` that every subscriber's send queue
/// refers to: what a slow subscriber has not taken costs nothing more than the one copy, and
/// the buffer is freed when the last subscriber has sent (or dropped) it.
///
/// With permessage-deflate a second batch holds the same messages compressed once (see
/// ``CompressedBatch``) for the subscribers that compress without context takeover; the
/// others get the plain batch.
final class Topic {
    let name: String
    /// Each subscriber's index here is kept with the subscriber (see `TopicMemberships`).
    private(set) var subscribers: [WebSocket] = []
    /// Frames (header and payload) published since the last flush.
    private(set) var batch: [UInt8] = []
    private(set) var batchMessageCount = 0
    /// The same messages for compressing subscribers; empty when there are none.
    private var compressed = CompressedBatch()
    /// How much of the batch subscribers got ahead of the flush (see `deliverEarly(to:)`).
    /// Empty in the common case, where the flush then makes no lookup per subscriber.
    private var deliveredEarly: [ObjectIdentifier: (bytes: Int, messages: Int)] = [:]

    init(name: String) {
        self.name = name
    }

    var isEmpty: Bool { subscribers.isEmpty }
    var hasPendingBatch: Bool { batchMessageCount > 0 }

    /// Adds a subscriber (the registry knows it was not one) and returns its index.
    func add(_ socket: WebSocket) -> Int {
        subscribers.append(socket)
        compressed.count(socket.sendCompression, by: 1)
        // A subscriber receives what is published from now on: the part of the batch it will
        // be given (compressed or plain) that is already waiting counts as delivered to it.
        if hasPendingBatch {
            let waiting = compressed.suits(socket.sendCompression, plainCount: batchMessageCount) ? compressed.frames.count : batch.count
            deliveredEarly[ObjectIdentifier(socket)] = (waiting, batchMessageCount)
        }
        return subscribers.count - 1
    }

    /// Removes `socket`, the subscriber at `position`, in O(1), moving the last one into its place;
    /// returns the moved subscriber (whose index is now `position`), if any.
    func remove(_ socket: WebSocket, at position: Int) -> WebSocket? {
        assert(subscribers[position] === socket, "a subscriber's kept position is stale")
        if !deliveredEarly.isEmpty { deliveredEarly[ObjectIdentifier(socket)] = nil }
        compressed.count(socket.sendCompression, by: -1)
        let last = subscribers.removeLast()
        guard position < subscribers.count else { return nil }
        subscribers[position] = last
        return last
    }

    /// Encodes one unmasked frame onto the batch, and onto the compressed batch when some
    /// subscribers take it.
    func append(_ payload: UnsafeRawBufferPointer, opcode: Opcode, in context: WebSocketContext) {
        Self.appendFrame(payload, opcode: opcode, compressed: false, to: &batch)
        compressed.append(payload, opcode: opcode, plainCount: batchMessageCount, in: context)
        batchMessageCount += 1
    }

    static func appendFrame(_ payload: UnsafeRawBufferPointer, opcode: Opcode, compressed: Bool, to frames: inout [UInt8]) {
        var header: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &header) { headerBytes in
            let count = FrameEncoder.writeHeader(
                into: headerBytes.baseAddress.unsafelyUnwrapped, opcode: opcode, fin: true,
                payloadLength: payload.count, maskKey: nil, compressed: compressed)
            frames.append(contentsOf: headerBytes[..<count])
        }
        frames.append(contentsOf: payload)
    }

    /// Sends a subscriber what it has not yet had of the batch, now rather than at the flush:
    /// a direct send to it follows, and must not overtake what was published before it.
    func deliverEarly(to socket: WebSocket) {
        let id = ObjectIdentifier(socket)
        let already = deliveredEarly[id] ?? (bytes: 0, messages: 0)
        guard already.messages < batchMessageCount else { return }
        // The batch is still growing, so it is not shared yet: the subscriber copies what the
        // kernel does not take, as any direct send. A local copy of the array is written from,
        // so that a publish to this topic from a `didClose` run by the write (a subscriber
        // failing) appends to the topic's own batch instead of overlapping this access.
        let frames = compressed.suits(socket.sendCompression, plainCount: batchMessageCount) ? compressed.frames : batch
        deliveredEarly[id] = (frames.count, batchMessageCount)
        frames.withUnsafeBytes { frames in
            socket.sendBatch(UnsafeRawBufferPointer(rebasing: frames[already.bytes...]), messageCount: batchMessageCount - already.messages)
        }
    }

    /// Sends the batch to every subscriber, one write each, from one shared buffer (and one
    /// for the compressed batch), and starts a new batch with the same capacity.
    func flushBatch(memory: OutboundMemory) {
        // Everything the writes need is taken out and the topic's batch reset before the
        // first write: a subscriber may close while we write (a write error), and its
        // `didClose` may unsubscribe, or publish to this very topic, which then starts the
        // next batch rather than touching this one.
        let subscribers = subscribers
        let messageCount = batchMessageCount
        let plain = batch.withUnsafeBytes { SharedBuffer(copying: $0, memory: memory) }
        let compressedWindow = compressed.usableWindow(plainCount: messageCount)
        let compressedFrames = compressedWindow == nil ? nil : compressed.frames.withUnsafeBytes { SharedBuffer(copying: $0, memory: memory) }
        let early = deliveredEarly
        batch.removeAll(keepingCapacity: batch.capacity <= 64 * 1024)
        batchMessageCount = 0
        compressed.reset()
        deliveredEarly = [:]
        for socket in subscribers {
            // Passed straight to the send, borrowed: no reference count traffic per subscriber.
            if let compressedFrames, let compressedWindow, CompressedBatch.suits(socket.sendCompression, window: compressedWindow) {
                Self.send(compressedFrames, to: socket, messageCount: messageCount, early: early)
            } else {
                Self.send(plain, to: socket, messageCount: messageCount, early: early)
            }
        }
    }

    /// Sends `socket` the part of a flushed batch it did not get from `deliverEarly(to:)`.
    private static func send(_ frames: SharedBuffer, to socket: WebSocket, messageCount: Int,
                             early: [ObjectIdentifier: (bytes: Int, messages: Int)]) {
        let already = early.isEmpty ? (bytes: 0, messages: 0) : early[ObjectIdentifier(socket)] ?? (bytes: 0, messages: 0)
        guard already.messages < messageCount else { return }
        socket.sendBatch(frames, from: already.bytes, messageCount: messageCount - already.messages)
    }
}
