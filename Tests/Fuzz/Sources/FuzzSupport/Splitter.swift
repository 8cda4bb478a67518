/// Cuts an input into chunks at positions derived from two bytes of the input, so
/// that the fuzzer explores how a parser copes with data arriving in pieces.
///
/// The low 3 bits of `control` pick the largest chunk (1, 2, 3, 7, 14, 64, 512 or
/// 4096 bytes: 1 is byte by byte, 14 is the largest frame header); `seed` seeds the
/// sizes. About one chunk in eight is empty.
public struct Splitter {
    public static let largestChunks = [1, 2, 3, 7, 14, 64, 512, 4096]

    private var state: UInt64
    private let largestChunk: Int

    public init(control: UInt8, seed: UInt8) {
        largestChunk = Self.largestChunks[Int(control & 0x07)]
        state = UInt64(seed) &* 0x2545_F491_4F6C_DD1D
    }

    /// The chunks of `count` bytes, in order; their union is `0..<count`.
    public mutating func chunks(count: Int) -> [Range<Int>] {
        var chunks: [Range<Int>] = []
        var start = 0
        var previousWasEmpty = false
        while start < count {
            let random = next()
            if !previousWasEmpty && random & 0x07 == 0 {
                chunks.append(start..<start)
                previousWasEmpty = true
                continue
            }
            let size = 1 + Int((random >> 3) % UInt64(largestChunk))
            let end = min(start + size, count)
            chunks.append(start..<end)
            start = end
            previousWasEmpty = false
        }
        return chunks
    }

    /// SplitMix64.
    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
