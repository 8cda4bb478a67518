import CEpollShim

#if canImport(Glibc)
import Glibc
#endif

/// A byte queue over one contiguous block used circularly.
///
/// Storage is attached lazily: an empty ring owns nothing. Its first block comes from a
/// `BufferPool`; when more room is needed the ring doubles into plain heap memory, and when
/// it drains to empty it gives its storage back. Readable bytes are at most two segments
/// (the tail of the block, then its head), which is exactly what `writev`/`readv` take.
///
/// A value type with manually managed memory, so the owner must call `release(to:)` before
/// dropping it. Not thread-safe; it lives on one loop.
public struct RingBuffer {
    private var storage: UnsafeMutableRawPointer?
    /// Size of `storage` in bytes; a power of two, or 0 when no storage is attached.
    public private(set) var capacity = 0
    private var head = 0
    /// Number of readable bytes.
    public private(set) var count = 0

    /// An empty buffer with no storage: it takes a block from the pool on the first append.
    public init() {}

    /// Whether there is nothing to read.
    public var isEmpty: Bool { count == 0 }

    /// Appends bytes, growing the storage as needed.
    public mutating func append(_ bytes: UnsafeRawBufferPointer, pool: BufferPool) {
        guard bytes.count > 0, let source = bytes.baseAddress else { return }
        reserve(count + bytes.count, pool: pool)
        guard let storage else { return }
        let tail = (head + count) & (capacity - 1)
        let firstPart = min(bytes.count, capacity - tail)
        (storage + tail).copyMemory(from: source, byteCount: firstPart)
        if firstPart < bytes.count {
            storage.copyMemory(from: source + firstPart, byteCount: bytes.count - firstPart)
        }
        count += bytes.count
    }

    /// The readable bytes, oldest first: `first` then `second` (often empty).
    public var readableSegments: (first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) {
        guard let storage, count > 0 else { return (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0)) }
        let firstCount = min(count, capacity - head)
        return (
            UnsafeRawBufferPointer(start: storage + head, count: firstCount),
            UnsafeRawBufferPointer(start: storage, count: count - firstCount)
        )
    }

    /// `length` readable bytes starting `offset` bytes past the oldest, as at most two
    /// segments: the part of a ``SendQueue`` that one of its pieces refers to.
    func segments(from offset: Int, count length: Int) -> (first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) {
        precondition(offset >= 0 && length >= 0 && offset + length <= count, "segments past the readable bytes")
        guard let storage, length > 0 else { return (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0)) }
        let start = (head + offset) & (capacity - 1)
        let firstCount = min(length, capacity - start)
        return (
            UnsafeRawBufferPointer(start: storage + start, count: firstCount),
            UnsafeRawBufferPointer(start: storage, count: length - firstCount)
        )
    }

    /// Drops `byteCount` bytes from the front; returns the storage to `pool` once empty.
    public mutating func consume(_ byteCount: Int, pool: BufferPool) {
        precondition(byteCount >= 0 && byteCount <= count, "consumed more than was buffered")
        count -= byteCount
        head = count == 0 ? 0 : (head + byteCount) & (capacity - 1)
        if count == 0 { release(to: pool) }
    }

    /// Frees the storage (to the pool if it came from there) and forgets any bytes.
    public mutating func release(to pool: BufferPool) {
        if let storage {
            if capacity == pool.blockSize { pool.give(storage) } else { storage.deallocate() }
        }
        storage = nil
        capacity = 0
        head = 0
        count = 0
    }

    /// Writes as much as the socket takes with one `sendmsg` of both segments.
    /// Returns the bytes written, 0 when the socket is full, or `-errno` on failure.
    public mutating func send(to fd: Int32, pool: BufferPool) -> Int {
        let (first, second) = readableSegments
        let written = sendPieces(fd, first, second)
        if written < 0 {
            let code = pw_errno()
            return code == EAGAIN || code == EWOULDBLOCK ? 0 : -Int(code)
        }
        consume(written, pool: pool)
        return written
    }

    /// Reads from `fd` into the free space with one `readv` of both free segments, making
    /// room for at least `minimumSpace` bytes first. Returns the bytes read, 0 at end of input,
    /// or `-errno` (including `-EAGAIN`).
    public mutating func receive(from fd: Int32, minimumSpace: Int, pool: BufferPool) -> Int {
        reserve(count + minimumSpace, pool: pool)
        guard let storage else { return -Int(ENOMEM) }
        let tail = (head + count) & (capacity - 1)
        let free = capacity - count
        let firstCount = min(free, capacity - tail)
        var vectors = (
            iovec(iov_base: storage + tail, iov_len: firstCount),
            iovec(iov_base: storage, iov_len: free - firstCount)
        )
        let vectorCount: Int32 = free - firstCount > 0 ? 2 : 1
        let received = withUnsafePointer(to: &vectors) { pointer in
            pointer.withMemoryRebound(to: iovec.self, capacity: 2) { iov in
                retryingInterrupts { pw_readv(fd, iov, vectorCount) }
            }
        }
        if received < 0 { return -Int(pw_errno()) }
        count += received
        if count == 0 { release(to: pool) }
        return received
    }

    /// Makes sure `needed` bytes fit, keeping the readable bytes in order.
    private mutating func reserve(_ needed: Int, pool: BufferPool) {
        if needed <= capacity { return }
        var newCapacity = max(capacity, pool.blockSize)
        while newCapacity < needed { newCapacity *= 2 }
        let newStorage = newCapacity == pool.blockSize
            ? pool.take()
            : UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        let (first, second) = readableSegments
        if let base = first.baseAddress { newStorage.copyMemory(from: base, byteCount: first.count) }
        if let base = second.baseAddress { (newStorage + first.count).copyMemory(from: base, byteCount: second.count) }
        let keptCount = count
        release(to: pool)
        storage = newStorage
        capacity = newCapacity
        count = keptCount
    }
}
