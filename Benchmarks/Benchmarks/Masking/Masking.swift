import Benchmark
import BenchmarkSupport
@_spi(Internals) import WebSocket

// XOR-unmasking payloads in place. "at0" is a payload unmasked from its first byte;
// "at3" continues a payload whose first 3 bytes came in an earlier read: the key is
// rotated and the data starts 3 bytes past a 16-byte boundary. Every sample unmasks
// 1,000 payloads, so the scaled results (`*`) are per payload.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .perOperation

    for (label, length) in [("16B", 16), ("4KiB", 4_096), ("64KiB", 65_536)] {
        for offset in [0, 3] {
            Benchmark("unmask.\(label).at\(offset)") { benchmark, payload in
                for _ in benchmark.scaledIterations {
                    Masking.unmask(payload.bytes, key: 0x5A3C_96E1, offset: offset)
                }
                blackHole(payload.bytes[0])
            } setup: {
                Payload(length: length, offset: offset)
            }
        }
    }
}

/// `length` bytes starting `offset` bytes into a 16-byte aligned allocation.
final class Payload {
    let bytes: UnsafeMutableRawBufferPointer
    private let storage: UnsafeMutableRawBufferPointer

    init(length: Int, offset: Int) {
        storage = .allocate(byteCount: offset + length, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0x61)
        bytes = UnsafeMutableRawBufferPointer(rebasing: storage[offset...])
    }

    deinit { storage.deallocate() }
}
