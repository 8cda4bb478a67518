/// A growable byte buffer with manually managed memory, for the bytes the
/// frame parser must keep between reads: partial payloads and the fragments
/// of a message being assembled.
///
/// It is a plain value holding a pointer: copying it copies the pointer, not
/// the bytes, so exactly one copy may be used (the owner copies it out,
/// mutates, and stores it back). Memory is freed only by ``deallocate()``;
/// after that the buffer owns nothing. Sizes are kept in 32 bits to keep the
/// parser small; ``FrameLimits`` caps messages at 2 GiB − 1.
struct MessageBuffer {
    /// No allocation smaller than this: small fragments and control frames
    /// then fit without a second reallocation.
    static let minimumCapacity = 256

    private var storage: UnsafeMutableRawPointer?
    private var storedCount: UInt32 = 0
    private var storedCapacity: UInt32 = 0

    init() {}

    /// How many bytes the buffer holds.
    var count: Int { Int(storedCount) }

    /// How many bytes fit before the buffer must grow; 0 when nothing is allocated.
    var capacity: Int { Int(storedCapacity) }

    var isEmpty: Bool { storedCount == 0 }

    /// The bytes held, valid until the next mutation.
    var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage, count: count)
    }

    /// Appends `newBytes`, growing by doubling but never beyond `limit` bytes
    /// in total. The caller has checked that the bytes fit: exceeding `limit`
    /// is a programming error and traps.
    mutating func append(_ newBytes: UnsafeRawBufferPointer, limit: Int) {
        guard let source = newBytes.baseAddress, newBytes.count > 0 else { return }
        let needed = count + newBytes.count
        precondition(needed <= limit && limit <= Int(UInt32.max), "MessageBuffer grew past its limit")
        if needed > capacity {
            grow(toAtLeast: needed, limit: limit)
        }
        // `grow` guarantees storage for `needed` bytes.
        guard let storage else { return }
        (storage + count).copyMemory(from: source, byteCount: newBytes.count)
        storedCount = UInt32(needed)
    }

    /// Makes room for `capacity` bytes in all (at most `limit`), so that a frame whose length
    /// is known is buffered with one allocation rather than a series of doublings.
    mutating func reserve(_ capacity: Int, limit: Int) {
        if capacity > self.capacity {
            grow(toAtLeast: min(capacity, limit), limit: limit)
        }
    }

    /// The start of the memory, nil when nothing is allocated.
    var baseAddress: UnsafeMutableRawPointer? { storage }

    /// Lends `body` the room at the end, at most `maximum` bytes (growing first, by
    /// doubling, when there is none, but never past `count + maximum` in total); `body`
    /// returns how many bytes it wrote there, which are then part of the buffer.
    mutating func appendInPlace(upTo maximum: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) {
        guard maximum > 0 else { return }
        if capacity == count {
            grow(toAtLeast: count + 1, limit: min(count + maximum, Int(UInt32.max)))
        }
        guard let storage else { return }
        let room = min(capacity - count, maximum)
        let written = body(UnsafeMutableRawBufferPointer(start: storage + count, count: room))
        precondition(written >= 0 && written <= room, "wrote outside the lent room")
        storedCount += UInt32(written)
    }

    /// Drops the bytes from `newCount` on, keeping the memory.
    mutating func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate beyond the end")
        storedCount = UInt32(newCount)
    }

    /// Frees the memory; the buffer is then empty and owns nothing.
    mutating func deallocate() {
        storage?.deallocate()
        storage = nil
        storedCount = 0
        storedCapacity = 0
    }

    private mutating func grow(toAtLeast needed: Int, limit: Int) {
        let doubled = max(capacity * 2, Self.minimumCapacity)
        let newCapacity = min(max(needed, doubled), limit)
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let storage {
            newStorage.copyMemory(from: storage, byteCount: count)
            storage.deallocate()
        }
        storage = newStorage
        storedCapacity = UInt32(newCapacity)
    }
}

/// Inflated bytes go straight into the buffer's spare room: no copy, and the buffer grows
/// only as far as the inflater's limit allows.
extension MessageBuffer: InflateOutput {
    mutating func appendBytes(upTo maximum: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) {
        appendInPlace(upTo: maximum, body)
    }
}
