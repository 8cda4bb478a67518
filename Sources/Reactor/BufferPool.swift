/// A per-loop cache of equally sized memory blocks.
///
/// Connections borrow a block only while they have bytes to keep (unsent output, a partial
/// frame) and give it back as soon as it is empty, so an idle connection owns no buffer and
/// busy ones do not call `malloc` for every burst. Confined to its loop's thread.
public final class BufferPool {
    /// The size of every block this pool hands out.
    public let blockSize: Int
    /// How many free blocks are kept; beyond that, returned blocks are freed.
    public let maxCachedBlocks: Int

    // `@exclusivity(unchecked)`: see `TCPConnection`'s documentation.
    @exclusivity(unchecked)
    private var freeBlocks: [UnsafeMutableRawPointer] = []
    /// Blocks handed out and not yet returned: a leak check for tests and metrics.
    @exclusivity(unchecked)
    public private(set) var blocksInUse = 0

    /// Creates an empty pool; blocks are allocated on first use.
    ///
    /// - Parameters:
    ///   - blockSize: The size of every block, a power of two (so that ring buffers can mask
    ///     their indices instead of dividing).
    ///   - maxCachedBlocks: How many returned blocks are kept for reuse.
    public init(blockSize: Int = 16 * 1024, maxCachedBlocks: Int = 256) {
        precondition(blockSize > 0 && blockSize & (blockSize - 1) == 0, "blockSize must be a power of two")
        self.blockSize = blockSize
        self.maxCachedBlocks = maxCachedBlocks
        freeBlocks.reserveCapacity(maxCachedBlocks)
    }

    deinit {
        for block in freeBlocks { block.deallocate() }
    }

    /// Hands out a block of `blockSize` bytes.
    public func take() -> UnsafeMutableRawPointer {
        blocksInUse += 1
        if let block = freeBlocks.popLast() { return block }
        return UnsafeMutableRawPointer.allocate(byteCount: blockSize, alignment: 16)
    }

    /// Takes back a block that `take()` handed out.
    public func give(_ block: UnsafeMutableRawPointer) {
        blocksInUse -= 1
        if freeBlocks.count < maxCachedBlocks {
            freeBlocks.append(block)
        } else {
            block.deallocate()
        }
    }

    /// Number of free blocks currently cached.
    public var cachedBlocks: Int { freeBlocks.count }
}
