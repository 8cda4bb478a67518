import Benchmark
import BenchmarkSupport
@_spi(Internals) import WebSocket

// Writing frames as the connections do: a server writes only the header (into a small
// stack buffer; the payload goes out as a second segment), a client writes the whole frame
// into its send buffer, masking the payload with a fresh key on the way. Every sample
// writes 1,000 frames, so the scaled results (`*`) are per frame.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .perOperation

    for (label, payloadLength) in [("16B", 16), ("4KiB", 4_096)] {
        Benchmark("encode.serverHeader.\(label)") { benchmark in
            var header: (UInt64, UInt64) = (0, 0)
            for _ in benchmark.scaledIterations {
                let written = withUnsafeMutableBytes(of: &header) { bytes in
                    FrameEncoder.writeHeader(
                        into: bytes.baseAddress!, opcode: .binary, fin: true,
                        payloadLength: payloadLength, maskKey: nil)
                }
                blackHole(header.0 ^ UInt64(written))
            }
        }

        Benchmark("encode.clientFrame.\(label)") { benchmark, output in
            output.writeFrames(benchmark)
        } setup: {
            SendBuffer(payloadLength: payloadLength)
        }
    }
}

/// A payload and a 64 KiB send buffer that frames are written into one after the other,
/// starting over at the front when the next frame would not fit.
final class SendBuffer {
    private let payload: UnsafeMutableRawBufferPointer
    private let buffer: UnsafeMutableRawBufferPointer
    private var offset = 0
    private var maskKey: UInt32 = 0x1234_5678

    init(payloadLength: Int) {
        payload = .allocate(byteCount: payloadLength, alignment: 16)
        for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index) }
        buffer = .allocate(byteCount: 64 * 1_024, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        payload.deallocate()
        buffer.deallocate()
    }

    func writeFrames(_ benchmark: Benchmark) {
        let frameLength = FrameEncoder.headerSize(payloadLength: payload.count, masked: true) + payload.count
        for _ in benchmark.scaledIterations {
            if offset + frameLength > buffer.count { offset = 0 }
            // A new key for every frame, as a client draws one (a cheap LCG stands in for the RNG).
            maskKey = maskKey &* 1_664_525 &+ 1_013_904_223
            offset += FrameEncoder.writeFrame(
                into: buffer.baseAddress! + offset, opcode: .binary, fin: true,
                payload: UnsafeRawBufferPointer(payload), maskKey: maskKey)
        }
        blackHole(buffer[offset &- 1])
    }
}
