import Testing

@testable import Reactor

#if canImport(Glibc)
import Glibc
#endif

/// The send queue against a model: the bytes it hands to `writev`, partially taken at every
/// offset, must be exactly the bytes appended, once each, in order; and whatever happens
/// (drained, or dropped mid-piece when the connection closes) every shared buffer and every
/// pooled block is given back.
@Suite struct SendQueueTests {
    let pool = BufferPool(blockSize: 16, maxCachedBlocks: 4)
    let memory = OutboundMemory()

    /// A deterministic generator, so that a failure can be replayed from its seed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private func shared(_ bytes: [UInt8]) -> SharedBuffer {
        bytes.withUnsafeBytes { SharedBuffer(copying: $0, memory: memory) }
    }

    private func appendOwned(_ queue: inout SendQueue, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { queue.append($0, pool: pool, memory: memory) }
    }

    /// What one `writev` of at most `vectors` pieces would send if the kernel took `limit` bytes.
    private func send(_ queue: inout SendQueue, vectors: Int, limit: Int) -> [UInt8] {
        let iov = UnsafeMutablePointer<iovec>.allocate(capacity: vectors)
        defer { iov.deallocate() }
        let filled = queue.gather(into: iov, capacity: vectors)
        var out: [UInt8] = []
        for index in 0..<filled where out.count < limit {
            let segment = UnsafeRawBufferPointer(start: iov[index].iov_base, count: iov[index].iov_len)
            out += segment.prefix(limit - out.count)
        }
        queue.consume(out.count, pool: pool, memory: memory)
        return out
    }

    /// A fixed interleaving: owned, shared, owned, owned (one run), shared twice from one buffer.
    private func fill(_ queue: inout SendQueue) -> [UInt8] {
        let big = shared((0..<40).map { UInt8($0 + 100) })
        let small = shared([200, 201, 202])
        appendOwned(&queue, [1, 2, 3, 4, 5])
        queue.append(big, from: 3, to: 30)
        appendOwned(&queue, [6, 7])
        appendOwned(&queue, Array(8..<30))
        queue.append(small, from: 0, to: 3)
        queue.append(big, from: 0, to: 40)
        var expected: [UInt8] = [1, 2, 3, 4, 5]
        expected += (3..<30).map { UInt8($0 + 100) }
        expected += [6, 7]
        expected += Array(8..<30)
        expected += [200, 201, 202]
        expected += (0..<40).map { UInt8($0 + 100) }
        return expected
    }

    @Test func ownedBytesAloneKeepNoPieceList() {
        var queue = SendQueue()
        appendOwned(&queue, [1, 2, 3])
        #expect(queue.pieceCount == 0)
        #expect(memory.queuedBytes == 3)
        #expect(send(&queue, vectors: 4, limit: 10) == [1, 2, 3])
        #expect(queue.isEmpty && memory.queuedBytes == 0 && pool.blocksInUse == 0)
    }

    @Test func partialWritesAtEveryOffsetSendEveryByteOnceInOrder() {
        var probe = SendQueue()
        let expected = fill(&probe)
        probe.release(pool: pool, memory: memory)
        for split in 0...expected.count {
            for vectors in [1, 2, 3, 64] {
                var queue = SendQueue()
                _ = fill(&queue)
                #expect(queue.count == expected.count)
                var sent = send(&queue, vectors: vectors, limit: split)
                while !queue.isEmpty { sent += send(&queue, vectors: vectors, limit: 7) }
                #expect(sent == expected, "split at \(split), \(vectors) vectors")
                #expect(memory.sharedBuffers == 0 && memory.queuedBytes == 0 && pool.blocksInUse == 0)
            }
        }
    }

    @Test func closingMidPieceReleasesEverything() {
        var probe = SendQueue()
        let total = fill(&probe).count
        probe.release(pool: pool, memory: memory)
        for split in 0..<total {
            var queue = SendQueue()
            let expected = fill(&queue)
            let sent = send(&queue, vectors: 64, limit: split)
            #expect(sent == Array(expected.prefix(split)))
            queue.release(pool: pool, memory: memory)
            #expect(queue.isEmpty)
            #expect(memory.sharedBuffers == 0 && memory.queuedBytes == 0 && pool.blocksInUse == 0, "closed at \(split)")
        }
    }

    @Test func aSharedBufferLivesUntilItsLastQueueIsDone() {
        var first = SendQueue()
        var second = SendQueue()
        do {
            let buffer = shared(Array(0..<32))
            first.append(buffer, from: 0, to: 32)
            second.append(buffer, from: 8, to: 32)
        }
        #expect(memory.sharedBuffers == 1 && memory.queuedBytes == 32)
        #expect(send(&first, vectors: 2, limit: 100) == Array(0..<32))
        #expect(memory.sharedBuffers == 1)
        #expect(send(&second, vectors: 2, limit: 10) == Array(8..<18))
        second.release(pool: pool, memory: memory)
        #expect(memory.sharedBuffers == 0 && memory.queuedBytes == 0)
    }

    /// Random interleavings of appends and partial sends over several queues sharing buffers.
    @Test(arguments: 0..<40 as Range<UInt64>) func randomInterleavings(seed: UInt64) {
        var random = SplitMix(state: seed)
        var queues = [SendQueue](repeating: SendQueue(), count: 3)
        var expected = [[UInt8]](repeating: [], count: 3)
        var sent = [[UInt8]](repeating: [], count: 3)
        var nextByte: UInt8 = 0
        func bytes(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in nextByte &+= 1; return nextByte }
        }
        for _ in 0..<200 {
            let which = Int.random(in: 0..<3, using: &random)
            switch Int.random(in: 0..<4, using: &random) {
            case 0:
                let piece = bytes(Int.random(in: 1...40, using: &random))
                appendOwned(&queues[which], piece)
                expected[which] += piece
            case 1:
                // One buffer for every queue, each taking a range of its own.
                let content = bytes(Int.random(in: 1...60, using: &random))
                let buffer = shared(content)
                for index in 0..<3 where Bool.random(using: &random) {
                    let start = Int.random(in: 0..<content.count, using: &random)
                    let end = Int.random(in: start...content.count, using: &random)
                    queues[index].append(buffer, from: start, to: end)
                    expected[index] += content[start..<end]
                }
            default:
                sent[which] += send(&queues[which], vectors: Int.random(in: 1...5, using: &random), limit: Int.random(in: 0...70, using: &random))
            }
            let queued = queues[0].count + queues[1].count + queues[2].count
            var outstanding = 0
            for index in 0..<3 { outstanding += expected[index].count - sent[index].count }
            #expect(queued == outstanding)
        }
        for index in 0..<3 {
            if index == 0 {
                queues[index].release(pool: pool, memory: memory)  // closed with output pending
                continue
            }
            while !queues[index].isEmpty { sent[index] += send(&queues[index], vectors: 3, limit: 50) }
            #expect(sent[index] == expected[index], "seed \(seed), queue \(index)")
        }
        #expect(expected[0].starts(with: sent[0]))
        #expect(memory.sharedBuffers == 0 && memory.queuedBytes == 0 && pool.blocksInUse == 0, "seed \(seed)")
    }
}
