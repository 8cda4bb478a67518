import CEpollShim

#if canImport(Glibc)
import Glibc
#endif

/// What a ``SendQueue`` holds while it is not empty: bytes of its own (copied into a pooled
/// ``RingBuffer``) interleaved with ranges of ``SharedBuffer``s it refers to without copying.
///
/// While only owned bytes are queued (the common case: an echo the kernel did not take
/// whole) the backlog is the ring buffer alone and keeps no piece list. Once a shared range
/// is queued, a list of pieces records the order: an owned piece stands for the next bytes
/// of the ring, a shared piece for a range of a buffer. A piece's reference is dropped as
/// soon as its last byte is sent, so a buffer is freed when the last connection has sent it.
///
/// A value type with manually managed memory: the owner calls ``release(pool:memory:)``
/// before dropping it. Confined to its loop's thread.
@usableFromInline
struct SendBacklog {
    enum Piece {
        /// The next `count` bytes of the ring.
        case owned(Int)
        /// Bytes `start..<end` of a shared buffer.
        case shared(SharedBuffer, start: Int, end: Int)
    }

    private var ring = RingBuffer()
    /// Empty while everything queued is in the ring; see the type's documentation.
    private var pieces: [Piece] = []
    /// Index of the oldest piece still queued: sent pieces before it are dropped in batches,
    /// so that consuming one is O(1).
    private var head = 0
    /// Bytes queued, owned and shared.
    private(set) var count = 0

    init() {}

    /// Bytes queued that this queue copied (the part of ``count`` in its own buffer).
    var ownedCount: Int { ring.count }

    /// Pieces queued (owned runs and shared ranges): for tests.
    var pieceCount: Int { pieces.count - head }

    // MARK: Adding

    /// Copies `bytes` to the end of the queue.
    mutating func append(_ bytes: UnsafeRawBufferPointer, pool: BufferPool, memory: OutboundMemory) {
        guard bytes.count > 0 else { return }
        ring.append(bytes, pool: pool)
        count += bytes.count
        memory.queuedBytes += bytes.count
        guard head < pieces.count else { return }
        // Pieces are in use: the copied bytes extend the last owned run, or start one.
        if case .owned(let run) = pieces[pieces.count - 1] {
            pieces[pieces.count - 1] = .owned(run + bytes.count)
        } else {
            pieces.append(.owned(bytes.count))
        }
    }

    /// Queues bytes `start..<end` of `buffer` by reference.
    mutating func append(_ buffer: SharedBuffer, from start: Int, to end: Int) {
        precondition(start >= 0 && start <= end && end <= buffer.count, "a range outside the shared buffer")
        guard start < end else { return }
        if head == pieces.count, !ring.isEmpty {
            // The first shared piece behind owned bytes: they become the first piece.
            pieces.append(.owned(ring.count))
        }
        pieces.append(.shared(buffer, start: start, end: end))
        count += end - start
    }

    // MARK: Sending

    /// Describes the oldest queued bytes in up to `capacity` vectors for one `writev`/`sendmsg`;
    /// returns how many it filled.
    func gather(into vectors: UnsafeMutablePointer<iovec>, capacity: Int) -> Int {
        var filled = 0
        forEachSegment { segment in
            vectors[filled] = iovec(iov_base: UnsafeMutableRawPointer(mutating: segment.baseAddress), iov_len: segment.count)
            filled += 1
            return filled < capacity
        }
        return filled
    }

    /// The oldest queued bytes as at most two segments, for a transport that takes two.
    var frontSegments: (first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) {
        var segments = (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0))
        var filled = 0
        forEachSegment { segment in
            if filled == 0 { segments.0 = segment } else { segments.1 = segment }
            filled += 1
            return filled < 2
        }
        return segments
    }

    /// Calls `body` with each non-empty segment of queued bytes, oldest first, until it
    /// returns false.
    private func forEachSegment(_ body: (UnsafeRawBufferPointer) -> Bool) {
        guard head < pieces.count else {
            let (first, second) = ring.readableSegments
            if first.count > 0, !body(first) { return }
            if second.count > 0 { _ = body(second) }
            return
        }
        var ringOffset = 0
        for index in head..<pieces.count {
            switch pieces[index] {
            case .owned(let run):
                let (first, second) = ring.segments(from: ringOffset, count: run)
                ringOffset += run
                if first.count > 0, !body(first) { return }
                if second.count > 0, !body(second) { return }
            case .shared(let buffer, let start, let end):
                if !body(buffer.bytes(start, end)) { return }
            }
        }
    }

    /// Drops the `byteCount` oldest bytes (they were sent), freeing what they held: ring
    /// storage goes back to `pool` once empty, a shared buffer's reference goes with its
    /// piece's last byte.
    mutating func consume(_ byteCount: Int, pool: BufferPool, memory: OutboundMemory) {
        precondition(byteCount >= 0 && byteCount <= count, "consumed more than was queued")
        count -= byteCount
        guard head < pieces.count else {
            ring.consume(byteCount, pool: pool)
            memory.queuedBytes -= byteCount
            return
        }
        var left = byteCount
        while left > 0 {
            left = consumeFromOldestPiece(left, pool: pool, memory: memory)
        }
        compactPieces()
    }

    /// Takes up to `byteCount` bytes from the oldest piece; returns how many are left to take.
    private mutating func consumeFromOldestPiece(_ byteCount: Int, pool: BufferPool, memory: OutboundMemory) -> Int {
        switch pieces[head] {
        case .owned(let run):
            let taken = min(run, byteCount)
            ring.consume(taken, pool: pool)
            memory.queuedBytes -= taken
            if taken == run { dropOldestPiece() } else { pieces[head] = .owned(run - taken) }
            return byteCount - taken
        case .shared(let buffer, let start, let end):
            let taken = min(end - start, byteCount)
            if start + taken == end { dropOldestPiece() } else { pieces[head] = .shared(buffer, start: start + taken, end: end) }
            return byteCount - taken
        }
    }

    /// Lets go of the oldest piece (and so of its buffer reference) at once.
    private mutating func dropOldestPiece() {
        pieces[head] = .owned(0)
        head += 1
    }

    /// Frees the piece list once everything is sent, so that an idle connection owns
    /// nothing, and drops the sent prefix once it is most of the list.
    private mutating func compactPieces() {
        if head == pieces.count {
            pieces = []
            head = 0
        } else if head >= 32, head * 2 >= pieces.count {
            pieces.removeFirst(head)
            head = 0
        }
    }

    /// Forgets everything queued (the connection closed): the ring's storage goes back to
    /// `pool` and every shared reference is dropped.
    mutating func release(pool: BufferPool, memory: OutboundMemory) {
        memory.queuedBytes -= ring.count
        ring.release(to: pool)
        pieces = []
        head = 0
        count = 0
    }
}
