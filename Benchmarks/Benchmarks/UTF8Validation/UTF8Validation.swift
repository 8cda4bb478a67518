import Benchmark
import BenchmarkSupport
@_spi(Internals) import WebSocket

// Validating 4 KiB text payloads: all ASCII (checked 8 bytes at a time), and a mix of
// Latin, CJK and emoji (mostly byte by byte). Every sample validates 1,000 payloads, so
// the scaled results (`*`) are per 4 KiB payload.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .perOperation

    let samples = [
        ("ascii", "The quick brown fox jumps over the lazy dog; {\"id\":42,\"ok\":true}\n"),
        ("mixed", "Grüße aus Köln, ça va? 東京は今日も晴れです。 Привет! 🎉🚀 naïve café 👩‍💻 "),
    ]
    for (label, sample) in samples {
        Benchmark("utf8.\(label).4KiB") { benchmark, text in
            var validator = UTF8Validator()
            for _ in benchmark.scaledIterations {
                validator.reset()
                guard validator.validate(text.bytes), validator.isComplete else {
                    return benchmark.error("valid text was rejected")
                }
            }
        } setup: {
            Text(repeating: sample, byteCount: 4_096)
        }
    }
}

/// `sample` repeated to exactly `byteCount` bytes, cut on a character boundary and padded with spaces.
final class Text {
    let bytes: UnsafeRawBufferPointer

    init(repeating sample: String, byteCount: Int) {
        var text: [UInt8] = []
        outer: while true {
            for character in sample {
                let encoded = Array(String(character).utf8)
                if text.count + encoded.count > byteCount { break outer }
                text += encoded
            }
        }
        text += repeatElement(UInt8(ascii: " "), count: byteCount - text.count)
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: 16)
        text.withUnsafeBytes { storage.copyMemory(from: $0) }
        bytes = UnsafeRawBufferPointer(storage)
    }

    deinit { bytes.deallocate() }
}
