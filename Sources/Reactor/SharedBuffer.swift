/// Immutable bytes that the send queues of many connections on one loop refer to instead of
/// copying them: e.g. a frame published to a topic, encoded once for all its subscribers.
///
/// Reference-counted: every ``SendQueue`` piece that still has bytes of it to send holds a
/// reference, and the memory is freed when the last one is sent or dropped. Its size counts
/// once in the loop's ``OutboundMemory`` for as long as it lives.
///
/// Confined to the loop whose ``OutboundMemory`` it counts in: the last reference must go
/// on that loop's thread (connections and topics of one loop are the only holders).
public final class SharedBuffer {
    /// The number of bytes.
    public let count: Int
    private let base: UnsafeMutableRawPointer
    private let memory: OutboundMemory

    /// Makes a buffer of `count` bytes that `fill` writes once; they never change after.
    public init(count: Int, memory: OutboundMemory, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        precondition(count >= 0, "a negative size")
        self.count = count
        self.memory = memory
        base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        fill(UnsafeMutableRawBufferPointer(start: base, count: count))
        memory.queuedBytes += count
        memory.sharedBuffers += 1
    }

    /// Makes a buffer holding a copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer, memory: OutboundMemory) {
        self.init(count: bytes.count, memory: memory) { destination in
            guard let source = bytes.baseAddress, bytes.count > 0 else { return }
            destination.baseAddress?.copyMemory(from: source, byteCount: bytes.count)
        }
    }

    deinit {
        base.deallocate()
        memory.queuedBytes -= count
        memory.sharedBuffers -= 1
    }

    /// The bytes; valid as long as this object is.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }

    /// `start..<end` of the bytes.
    func bytes(_ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + start, count: end - start)
    }
}
