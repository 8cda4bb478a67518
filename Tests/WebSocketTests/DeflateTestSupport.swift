import Testing

@_spi(Internals) @testable import WebSocket

/// Payloads for the compression tests, made once: debug builds are slow at filling megabytes.
enum DeflatePayloads {
    /// Random bytes: incompressible, so the compressed form is larger than the message.
    static let random: [UInt8] = {
        var generator = SplitMix64(seed: 7692)
        var bytes = [UInt8]()
        bytes.reserveCapacity(1 << 20)
        for _ in 0..<(1 << 17) {
            withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }()

    /// Text-like bytes: words from a small vocabulary, so matches at many distances.
    static let compressible: [UInt8] = {
        let words = ["push", "wave", "socket", "deflate", "frame", "topic", " ", ", ", "\n", "{\"id\":", "}"]
        var generator = SplitMix64(seed: 1951)
        var bytes = [UInt8]()
        bytes.reserveCapacity((1 << 20) + 16)
        while bytes.count < 1 << 20 {
            bytes.append(contentsOf: words[Int(generator.next() % UInt64(words.count))].utf8)
        }
        return Array(bytes.prefix(1 << 20))
    }()
}

/// Compresses one message with `deflater`, failing the test if zlib fails.
func deflate(_ message: [UInt8], with deflater: Deflater) -> [UInt8] {
    var output: [UInt8] = []
    let succeeded = message.withUnsafeBytes { deflater.compress($0, appendingTo: &output) }
    #expect(succeeded, "deflate failed")
    return output
}

/// Inflates one message fed in `chunks`, then its tail; the status of the first failure.
func inflate(chunks: [[UInt8]], with inflater: Inflater, limit: Int) -> (status: InflateStatus, bytes: [UInt8]) {
    var output = InflatedBytes()
    inflater.startMessage(limit: limit)
    for chunk in chunks {
        let status = chunk.withUnsafeBytes { inflater.inflate($0, into: &output) }
        if status != .ok { return (status, output.bytes) }
    }
    return (inflater.finishMessage(into: &output), output.bytes)
}

func inflate(_ compressed: [UInt8], with inflater: Inflater, limit: Int = 1 << 24) -> (status: InflateStatus, bytes: [UInt8]) {
    inflate(chunks: [compressed], with: inflater, limit: limit)
}
