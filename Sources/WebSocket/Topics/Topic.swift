import Reactor

/// One topic on one loop: its subscribers, and the frames published to it during the current
/// loop iteration, encoded once and sent to every subscriber in one write when the iteration
/// ends.
final class Topic {
    let name: String
    private(set) var subscribers: [WebSocket] = []
    private var positions: [ObjectIdentifier: Int] = [:]
    /// Frames (header and payload) published since the last flush.
    private(set) var batch: [UInt8] = []
    private(set) var batchMessageCount = 0

    init(name: String) {
        self.name = name
    }

    var isEmpty: Bool { subscribers.isEmpty }
    var hasPendingBatch: Bool { batchMessageCount > 0 }

    /// Adds a subscriber; false when it already was one.
    func add(_ socket: WebSocket) -> Bool {
        let id = ObjectIdentifier(socket)
        guard positions[id] == nil else { return false }
        positions[id] = subscribers.count
        subscribers.append(socket)
        return true
    }

    /// Removes a subscriber in O(1), moving the last one into its place.
    func remove(_ socket: WebSocket) -> Bool {
        guard let position = positions.removeValue(forKey: ObjectIdentifier(socket)) else { return false }
        let last = subscribers.removeLast()
        if position < subscribers.count {
            subscribers[position] = last
            positions[ObjectIdentifier(last)] = position
        }
        return true
    }

    /// Encodes one unmasked frame onto the batch.
    func append(_ payload: UnsafeRawBufferPointer, opcode: Opcode) {
        var header: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &header) { headerBytes in
            let count = FrameEncoder.writeHeader(
                into: headerBytes.baseAddress.unsafelyUnwrapped, opcode: opcode, fin: true,
                payloadLength: payload.count, maskKey: nil)
            batch.append(contentsOf: headerBytes[..<count])
        }
        batch.append(contentsOf: payload)
        batchMessageCount += 1
    }

    /// Hands the batch out and starts a new one, keeping its capacity.
    func takeBatch(_ body: (UnsafeRawBufferPointer, Int) -> Void) {
        batch.withUnsafeBytes { body($0, batchMessageCount) }
        batch.removeAll(keepingCapacity: batch.capacity <= 64 * 1024)
        batchMessageCount = 0
    }
}
