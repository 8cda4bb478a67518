import Benchmark
import BenchmarkSupport
import Reactor

// The connection's byte queue. "wrap" keeps a standing backlog of 10,000 bytes in one
// 16 KiB block and pushes chunks through it (append, read the segments, consume), so the
// readable bytes keep wrapping around the end of the block. "poolReuse" starts empty:
// each append takes a block from the pool and each consume that empties the ring gives it
// back. Every sample moves 1,000 chunks, so the scaled results (`*`) are per chunk.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .perOperation

    for (label, chunkSize) in [("16B", 16), ("4KiB", 4_096)] {
        Benchmark("ring.wrap.\(label)") { benchmark, queue in
            queue.pushThrough(benchmark)
        } setup: {
            Queue(chunkSize: chunkSize, backlog: 10_000)
        }
    }
    Benchmark("ring.poolReuse.16B") { benchmark, queue in
        queue.pushThrough(benchmark)
    } setup: {
        Queue(chunkSize: 16, backlog: 0)
    }
}

final class Queue {
    private let pool = BufferPool(blockSize: 16 * 1_024, maxCachedBlocks: 4)
    private var ring = RingBuffer()
    private let chunk: UnsafeMutableRawBufferPointer

    init(chunkSize: Int, backlog: Int) {
        chunk = .allocate(byteCount: chunkSize, alignment: 16)
        chunk.initializeMemory(as: UInt8.self, repeating: 0x2A)
        let filler = UnsafeMutableRawBufferPointer.allocate(byteCount: max(backlog, 1), alignment: 16)
        filler.initializeMemory(as: UInt8.self, repeating: 0)
        ring.append(UnsafeRawBufferPointer(rebasing: filler[0..<backlog]), pool: pool)
        filler.deallocate()
        // Warm the pool: its first block is allocated here, not in the measured region.
        ring.append(UnsafeRawBufferPointer(chunk), pool: pool)
        ring.consume(chunk.count, pool: pool)
    }

    deinit {
        ring.release(to: pool)
        chunk.deallocate()
    }

    func pushThrough(_ benchmark: Benchmark) {
        let backlog = ring.count
        for _ in benchmark.scaledIterations {
            ring.append(UnsafeRawBufferPointer(chunk), pool: pool)
            let (first, second) = ring.readableSegments
            blackHole(first.count &+ second.count)
            ring.consume(chunk.count, pool: pool)
        }
        if ring.count != backlog || pool.blocksInUse != (backlog > 0 ? 1 : 0) {
            benchmark.error("ring holds \(ring.count) bytes, \(pool.blocksInUse) blocks in use")
        }
    }
}
