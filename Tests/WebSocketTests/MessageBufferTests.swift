import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct MessageBufferTests {
    @Test func aNewBufferOwnsNothing() {
        let buffer = MessageBuffer()
        #expect(buffer.count == 0)
        #expect(buffer.capacity == 0)
        #expect(buffer.isEmpty)
        #expect(buffer.bytes.count == 0)
    }

    @Test func appendingNothingAllocatesNothing() {
        var buffer = MessageBuffer()
        buffer.append(UnsafeRawBufferPointer(start: nil, count: 0), limit: 1000)
        #expect(buffer.capacity == 0)
    }

    @Test func appendKeepsTheBytesInOrderAndGrowsByDoubling() {
        var buffer = MessageBuffer()
        var expected: [UInt8] = []
        var capacities: [Int] = []
        for round in 0..<40 {
            let piece = [UInt8](repeating: UInt8(round), count: 50)
            piece.withUnsafeBytes { buffer.append($0, limit: 1 << 20) }
            expected += piece
            if capacities.last != buffer.capacity { capacities.append(buffer.capacity) }
        }
        #expect(Array(buffer.bytes) == expected)
        #expect(capacities == [256, 512, 1024, 2048])
        buffer.deallocate()
    }

    @Test func growthStopsAtTheLimit() {
        var buffer = MessageBuffer()
        let piece = [UInt8](repeating: 7, count: 300)
        piece.withUnsafeBytes { buffer.append($0, limit: 700) }
        piece.withUnsafeBytes { buffer.append($0, limit: 700) }
        #expect(buffer.capacity == 600)
        [UInt8](repeating: 8, count: 100).withUnsafeBytes { buffer.append($0, limit: 700) }
        #expect(buffer.capacity == 700)
        #expect(buffer.count == 700)
        buffer.deallocate()
    }

    @Test func aLargeAppendGrowsToExactlyWhatIsNeeded() {
        var buffer = MessageBuffer()
        [UInt8](repeating: 1, count: 5000).withUnsafeBytes { buffer.append($0, limit: 10_000) }
        #expect(buffer.capacity == 5000)
        buffer.deallocate()
    }

    @Test func truncateKeepsThePrefixAndTheMemory() {
        var buffer = MessageBuffer()
        Array(0..<100 as Range<UInt8>).withUnsafeBytes { buffer.append($0, limit: 1000) }
        buffer.truncate(to: 10)
        #expect(Array(buffer.bytes) == Array(0..<10))
        #expect(buffer.capacity == 256)
        [UInt8]([200]).withUnsafeBytes { buffer.append($0, limit: 1000) }
        #expect(Array(buffer.bytes) == Array(0..<10) + [200])
        buffer.deallocate()
    }

    @Test func deallocateLeavesNothingAndTheBufferIsReusable() {
        var buffer = MessageBuffer()
        [UInt8](repeating: 1, count: 10).withUnsafeBytes { buffer.append($0, limit: 1000) }
        buffer.deallocate()
        #expect(buffer.count == 0 && buffer.capacity == 0)
        buffer.deallocate()
        [UInt8]([4, 5]).withUnsafeBytes { buffer.append($0, limit: 1000) }
        #expect(Array(buffer.bytes) == [4, 5])
        buffer.deallocate()
    }
}
