import Testing

@testable import Redis

@Suite struct FIFOQueueTests {
    private final class Token {}

    @Test func elementsComeOutInOrderAcrossCompactions() {
        var queue = FIFOQueue<Int>()
        var removed: [Int] = []
        for value in 0..<200 { queue.append(value) }
        // Past 64 removed elements the prefix is dropped; the order must survive it.
        for _ in 0..<150 { if let value = queue.removeFirst() { removed.append(value) } }
        for value in 200..<300 { queue.append(value) }
        #expect(queue.count == 150)
        while let value = queue.removeFirst() { removed.append(value) }
        #expect(removed == Array(0..<300))
        #expect(queue.count == 0)
        queue.append(7)
        #expect(queue.removeFirst() == 7)
        #expect(queue.removeFirst() == nil)
    }

    /// A removed handler must not stay in the storage: it may capture the connection's owner.
    @Test func aRemovedElementIsReleasedAtOnce() {
        var queue = FIFOQueue<Token>()
        weak var first: Token?
        weak var second: Token?
        do {
            let a = Token(), b = Token()
            first = a
            second = b
            queue.append(a)
            queue.append(b)
        }
        _ = queue.removeFirst()
        #expect(first == nil)
        #expect(second != nil)
        _ = queue.removeFirst()
        #expect(second == nil)
        #expect(queue.count == 0)
    }
}
