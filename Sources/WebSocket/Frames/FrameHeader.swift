/// A frame header decoded from the wire and checked against the rules.
struct FrameHeader {
    var fin: Bool
    var opcode: Opcode
    /// RSV1 on the first frame of a data message: permessage-deflate compressed it.
    var compressed = false
    /// The masking key as its 4 wire bytes loaded little-endian; 0 when unmasked.
    var maskKey: UInt32
    var payloadLength: Int
    /// How many bytes the header took on the wire: 2 to 14.
    var length: Int
}

/// The outcome of decoding the start of a frame.
enum HeaderDecoding {
    /// The bytes end before the header does; every rule that the available
    /// bytes allow to check has passed.
    case incomplete
    case complete(FrameHeader)
    case invalid(ProtocolError)
}

/// The first bytes of a frame header that arrived at the end of a read,
/// kept inline (no heap) until the rest arrives.
struct PartialHeader {
    private var storage: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                          UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private var storedCount: UInt8 = 0

    /// How many header bytes are kept.
    var count: Int { Int(storedCount) }

    var isEmpty: Bool { storedCount == 0 }

    /// Copies as many of the `available` bytes at `source` as the largest
    /// header could still need, and returns how many it took.
    mutating func append(_ source: UnsafeRawPointer, available: Int) -> Int {
        let start = count
        let taken = min(FrameEncoder.maxHeaderSize - start, available)
        withUnsafeMutableBytes(of: &storage) { storageBytes in
            guard let base = storageBytes.baseAddress else { return }
            (base + start).copyMemory(from: source, byteCount: taken)
        }
        storedCount = UInt8(start + taken)
        return taken
    }

    /// Calls `body` with the kept bytes.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let keptCount = count
        return withUnsafeBytes(of: storage) { storageBytes in
            body(UnsafeRawBufferPointer(rebasing: storageBytes[..<keptCount]))
        }
    }

    mutating func removeAll() {
        storedCount = 0
    }
}
