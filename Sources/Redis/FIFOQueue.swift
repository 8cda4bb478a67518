/// A first-in first-out queue with O(1) amortised append and removal at the front: the
/// removed prefix is dropped once it is half of the storage.
///
/// A removed element's slot is cleared at once. The queues hold reply handlers, and a
/// handler often captures the object that owns the connection: a slot that kept it until
/// the prefix was dropped would keep that owner (and, through it, the connection and its
/// loop) alive in a cycle.
struct FIFOQueue<Element> {
    private var storage: [Element?] = []
    private var head = 0

    var count: Int { storage.count - head }

    mutating func append(_ element: Element) {
        storage.append(element)
    }

    mutating func removeFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head].take()
        head += 1
        if head == storage.count {
            // Empty: start again at the front, keeping the capacity for the next burst.
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}
