import Benchmark
import BenchmarkSupport
@_spi(Internals) import WebSocket

// Parsing masked client frames as a server does: header decoding, unmasking in place,
// UTF-8 validation for text, delivery to a sink. Every sample parses 1,000 frames, so the
// scaled results (`*`) are per frame.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .perOperation

    // Whole frames, many per read: a 16 B batch is 1,000 frames in 21.5 KiB, a 1 KiB
    // batch 50 frames in 50 KiB (parsed 20 times), a 64 KiB frame is one read (parsed 1,000 times).
    let sizes = [("16B", 16, 1_000), ("1KiB", 1_024, 50), ("64KiB", 65_536, 1)]
    for (label, payloadSize, framesPerRead) in sizes {
        for (kind, opcode) in [("binary", Opcode.binary), ("text", .text)] {
            Benchmark("parse.\(kind).\(label)") { benchmark, stream in
                stream.run(benchmark)
            } setup: {
                FrameStream(opcode: opcode, payloadSize: payloadSize, framesInBuffer: framesPerRead, framesPerRead: framesPerRead)
            }
        }
    }

    // One frame per read, then the same reads each cut 3 bytes into the next frame's header:
    // the parser keeps the partial header, completes it from the next read and decodes the
    // copy. The difference between the two is the cost of that path.
    Benchmark("parse.binary.16B.readPerFrame") { benchmark, stream in
        stream.run(benchmark)
    } setup: {
        FrameStream(opcode: .binary, payloadSize: 16, framesInBuffer: 1_000, framesPerRead: 1)
    }
    Benchmark("parse.binary.16B.splitHeader") { benchmark, stream in
        stream.run(benchmark)
    } setup: {
        FrameStream(opcode: .binary, payloadSize: 16, framesInBuffer: 1_000, framesPerRead: 1, splitAt: 3)
    }
}

/// Identical masked frames back to back, the reads to hand them to the parser in, and the parser.
///
/// The parser unmasks in place, so parsing the buffer again sees different payload bytes.
/// Binary frames do not care (headers are never modified, and the payload's content does not
/// matter). Text frames use the all-zero masking key, so the payload stays valid UTF-8 and is
/// validated on every pass; unmasking does the same work whatever the key.
final class FrameStream {
    static let framesPerSample = 1_000

    private let bytes: UnsafeMutableRawBufferPointer
    private let reads: [Range<Int>]
    private let passes: Int
    private var parser = FrameParserProbe(role: .server)

    init(opcode: Opcode, payloadSize: Int, framesInBuffer: Int, framesPerRead: Int, splitAt: Int = 0) {
        precondition(Self.framesPerSample % framesInBuffer == 0 && framesInBuffer % framesPerRead == 0)
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: payloadSize, alignment: 16)
        defer { payload.deallocate() }
        let text = Array(#"{"topic":"lobby","from":"ada","text":"see you at the usual place"} "#.utf8)
        for index in 0..<payloadSize {
            payload[index] = opcode == .text ? text[index % text.count] : UInt8(truncatingIfNeeded: index &* 31)
        }
        let maskKey: UInt32 = opcode == .text ? 0 : 0x5A3C_96E1
        let frameLength = FrameEncoder.headerSize(payloadLength: payloadSize, masked: true) + payloadSize
        let streamLength = frameLength * framesInBuffer

        // The first `splitAt` bytes are repeated at the end, so that the last read ends
        // where the first frame's header was cut and the stream can be parsed in a loop.
        bytes = .allocate(byteCount: streamLength + splitAt, alignment: 16)
        for frame in 0..<framesInBuffer {
            _ = FrameEncoder.writeFrame(
                into: bytes.baseAddress! + frame * frameLength, opcode: opcode, fin: true,
                payload: UnsafeRawBufferPointer(payload), maskKey: maskKey)
        }
        bytes.baseAddress!.advanced(by: streamLength).copyMemory(from: bytes.baseAddress!, byteCount: splitAt)

        let readLength = frameLength * framesPerRead
        reads = stride(from: splitAt, to: splitAt + streamLength, by: readLength).map { $0..<($0 + readLength) }
        passes = Self.framesPerSample / framesInBuffer
        if splitAt > 0 {
            parser.parse(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<splitAt]))
        }
    }

    deinit {
        parser.release()
        bytes.deallocate()
    }

    func run(_ benchmark: Benchmark) {
        let before = parser.counts.messages
        // The parser is a plain value: parse with a local copy, as a connection does.
        var parser = self.parser
        benchmark.startMeasurement()
        for _ in 0..<passes {
            for read in reads {
                parser.parse(UnsafeMutableRawBufferPointer(rebasing: bytes[read]))
            }
        }
        benchmark.stopMeasurement()
        self.parser = parser
        let counts = parser.counts
        if counts.failure != nil || counts.messages - before != Self.framesPerSample {
            benchmark.error("parsed \(counts.messages - before) messages, failure \(String(describing: counts.failure))")
        }
    }
}
