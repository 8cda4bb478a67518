import Testing
@testable import Reactor

@Suite struct RingBufferTests {
    let pool = BufferPool(blockSize: 16, maxCachedBlocks: 4)

    private func contents(_ ring: RingBuffer) -> [UInt8] {
        let (first, second) = ring.readableSegments
        return Array(first) + Array(second)
    }

    private func append(_ ring: inout RingBuffer, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { ring.append($0, pool: pool) }
    }

    @Test func emptyRingOwnsNoStorage() {
        let ring = RingBuffer()
        #expect(ring.capacity == 0)
        #expect(ring.isEmpty)
        #expect(ring.readableSegments.first.count == 0)
    }

    @Test func appendAndConsumeInOrder() {
        var ring = RingBuffer()
        append(&ring, [1, 2, 3])
        append(&ring, [4, 5])
        #expect(contents(ring) == [1, 2, 3, 4, 5])
        ring.consume(2, pool: pool)
        #expect(contents(ring) == [3, 4, 5])
        ring.consume(3, pool: pool)
        #expect(ring.capacity == 0, "an empty ring gives its storage back")
        #expect(pool.blocksInUse == 0)
    }

    /// Every head position × every length that wraps: the bytes come out in order, split
    /// into exactly the two segments expected.
    @Test func wrapsAtEveryPosition() {
        for start in 0..<16 {
            for length in 1...16 {
                var ring = RingBuffer()
                append(&ring, [UInt8](repeating: 0, count: start))
                ring.consume(start, pool: pool)
                // Consuming everything released the block; fill to the start again, keep one byte.
                append(&ring, [UInt8](repeating: 0xAA, count: max(start, 1)))
                ring.consume(max(start, 1) - 1, pool: pool)
                let payload = (0..<length).map { UInt8($0 + 1) }
                let room = ring.capacity - ring.count
                append(&ring, Array(payload.prefix(room)))
                let expected = [0xAA] + Array(payload.prefix(room))
                #expect(contents(ring) == expected, "start \(start) length \(length)")
                let (first, second) = ring.readableSegments
                #expect(first.count + second.count == expected.count)
                ring.release(to: pool)
            }
        }
        #expect(pool.blocksInUse == 0)
    }

    @Test func growsPastOneBlockKeepingOrderAcrossTheWrap() {
        var ring = RingBuffer()
        append(&ring, Array(0..<12))
        ring.consume(10, pool: pool)          // head at 10
        append(&ring, Array(12..<20))         // wraps: 10...15 then 0...3
        #expect(ring.readableSegments.second.count > 0)
        append(&ring, Array(20..<40))         // grows to 32, then 64 bytes
        #expect(ring.capacity >= 32)
        #expect(contents(ring) == Array(10..<40))
        ring.release(to: pool)
        #expect(pool.blocksInUse == 0)
    }

    @Test func poolReusesBlocks() {
        var ring = RingBuffer()
        append(&ring, [1])
        ring.consume(1, pool: pool)
        #expect(pool.cachedBlocks == 1)
        append(&ring, [2])
        #expect(pool.cachedBlocks == 0)
        ring.release(to: pool)
    }

    @Test func sendAndReceiveThroughASocketPair() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var outgoing = RingBuffer()
        append(&outgoing, Array(0..<14))
        outgoing.consume(10, pool: pool)
        append(&outgoing, Array(14..<24))  // wraps
        #expect(outgoing.send(to: fds[0], pool: pool) == 14)
        #expect(outgoing.isEmpty)

        var incoming = RingBuffer()
        append(&incoming, Array(repeating: 9, count: 12))
        incoming.consume(11, pool: pool)   // head at 11, one byte kept
        #expect(incoming.receive(from: fds[1], minimumSpace: 4, pool: pool) == 14)
        #expect(contents(incoming) == [9] + Array(10..<24))
        incoming.release(to: pool)
        #expect(pool.blocksInUse == 0)
    }
}

import Glibc
import TestSupport
