import CEpollShim

#if canImport(Glibc)
import Glibc
#endif

/// A connection's unsent output, in order: bytes of its own (copied into a pooled
/// ``RingBuffer``) interleaved with ranges of ``SharedBuffer``s it refers to without copying.
///
/// Most connections have nothing queued most of the time, so the queue is one pointer, nil
/// while empty: an idle connection pays 8 bytes for it, not the backlog's 56. The backlog
/// is allocated when the kernel leaves bytes unsent and freed when they are all sent, once
/// per backlog episode rather than per message.
///
/// A value type with manually managed memory: the owner calls ``release(pool:memory:)``
/// before dropping it, and a copy takes the backlog over (the original must not be used
/// again). Confined to its loop's thread.
public struct SendQueue {
    /// Nil exactly when nothing is queued.
    @usableFromInline
    var backlog: UnsafeMutablePointer<SendBacklog>?

    /// An empty queue; it owns no memory.
    public init() {}

    /// Whether nothing is queued.
    @inlinable
    public var isEmpty: Bool { backlog == nil }

    /// Bytes queued, owned and shared.
    public var count: Int { backlog?.pointee.count ?? 0 }

    /// Bytes queued that this queue copied (the part of ``count`` in its own buffer).
    public var ownedCount: Int { backlog?.pointee.ownedCount ?? 0 }

    /// Pieces queued (owned runs and shared ranges): for tests.
    var pieceCount: Int { backlog?.pointee.pieceCount ?? 0 }

    /// Copies `bytes` to the end of the queue.
    public mutating func append(_ bytes: UnsafeRawBufferPointer, pool: BufferPool, memory: OutboundMemory) {
        guard bytes.count > 0 else { return }
        allocatedBacklog().pointee.append(bytes, pool: pool, memory: memory)
    }

    /// Queues bytes `start..<end` of `buffer` by reference.
    public mutating func append(_ buffer: SharedBuffer, from start: Int, to end: Int) {
        precondition(start >= 0 && start <= end && end <= buffer.count, "a range outside the shared buffer")
        guard start < end else { return }
        allocatedBacklog().pointee.append(buffer, from: start, to: end)
    }

    /// Describes the oldest queued bytes in up to `capacity` vectors for one `writev`/`sendmsg`;
    /// returns how many it filled.
    public func gather(into vectors: UnsafeMutablePointer<iovec>, capacity: Int) -> Int {
        backlog?.pointee.gather(into: vectors, capacity: capacity) ?? 0
    }

    /// The oldest queued bytes as at most two segments, for a transport that takes two.
    public var frontSegments: (first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) {
        backlog?.pointee.frontSegments ?? (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Drops the `byteCount` oldest bytes (they were sent), freeing what they held: ring
    /// storage goes back to `pool` once empty, a shared buffer's reference goes with its
    /// piece's last byte, and the backlog itself once everything is sent.
    public mutating func consume(_ byteCount: Int, pool: BufferPool, memory: OutboundMemory) {
        guard let backlog else {
            precondition(byteCount == 0, "consumed more than was queued")
            return
        }
        backlog.pointee.consume(byteCount, pool: pool, memory: memory)
        if backlog.pointee.count == 0 { free(backlog, pool: pool, memory: memory) }
    }

    /// Forgets everything queued (the connection closed): the ring's storage goes back to
    /// `pool` and every shared reference is dropped.
    public mutating func release(pool: BufferPool, memory: OutboundMemory) {
        guard let backlog else { return }
        free(backlog, pool: pool, memory: memory)
    }

    private mutating func allocatedBacklog() -> UnsafeMutablePointer<SendBacklog> {
        if let backlog { return backlog }
        let created = UnsafeMutablePointer<SendBacklog>.allocate(capacity: 1)
        created.initialize(to: SendBacklog())
        backlog = created
        return created
    }

    private mutating func free(_ backlog: UnsafeMutablePointer<SendBacklog>, pool: BufferPool, memory: OutboundMemory) {
        backlog.pointee.release(pool: pool, memory: memory)
        backlog.deinitialize(count: 1)
        backlog.deallocate()
        self.backlog = nil
    }
}
