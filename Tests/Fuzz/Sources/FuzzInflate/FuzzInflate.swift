import FuzzSupport
@_spi(Internals) import WebSocket

/// The permessage-deflate inflater, on arbitrary compressed payloads.
///
/// Input: byte 0 is the control byte (bits 0–2 the largest chunk, as for the frame
/// parsers; bits 6–7 the limit: 64 KiB, 4 KiB, 100 bytes, 0), byte 1 seeds the chunk
/// sizes, byte 2 picks the window (8 + its low 3 bits), the rest is one message's payload.
/// Fed whole and in chunks, the result must be the same (but for a stream that refers back
/// past its window, see below) and the output within the limit;
/// what inflates fine must deflate and inflate back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 3 else { return 0 }
    let input = UnsafeRawBufferPointer(start: start, count: count)
    let limit = [64 * 1024, 4096, 100, 0][Int(input[0] >> 6)]
    let windowBits = 8 + Int(input[2] & 0x07)
    let payload = UnsafeRawBufferPointer(rebasing: input[3...])
    guard let inflater = Inflater(windowBits: windowBits, contextTakeover: false) else { return 0 }

    let whole = inflate([0..<payload.count], of: payload, with: inflater, limit: limit)
    fuzzCheck(whole.bytes.count <= limit, "output \(whole.bytes.count) past the limit \(limit)")
    fuzzCheck(whole.status != .ok || whole.bytes.count == inflater.producedCount, "producedCount disagrees")

    var splitter = Splitter(control: input[0], seed: input[1])
    let chunks = splitter.chunks(count: payload.count)
    let chunked = inflate(chunks, of: payload, with: inflater, limit: limit)
    if chunked.status != whole.status {
        // A stream that refers further back than its window is corrupt, but zlib notices only
        // when the reference crosses from one inflate call into an earlier one: in one call
        // it copies from the output it just wrote. Such a stream may pass whole and fail in
        // chunks (a peer that broke its window promise gets its message or a 1007). The only
        // difference allowed is that one: with the largest window the chunks agree.
        fuzzCheck(windowBits < 15, "whole \(whole.status), in chunks \(chunked.status)")
        guard let wide = Inflater(windowBits: 15, contextTakeover: false) else { return 0 }
        let widened = inflate(chunks, of: payload, with: wide, limit: limit)
        fuzzCheck(widened.status == whole.status && widened.bytes == whole.bytes, "whole \(whole.status), in chunks \(chunked.status) even with a 32 KiB window")
        return 0
    }
    fuzzCheck(whole.status == .corrupt || chunked.bytes == whole.bytes, "whole and chunked output differ")

    if whole.status == .ok {
        checkRoundTrip(whole.bytes, windowBits: windowBits, inflater: inflater, limit: limit)
    }
    return 0
}

/// Inflates `payload` fed as `chunks` (each an exact-size copy), then the tail.
func inflate(
    _ chunks: [Range<Int>], of payload: UnsafeRawBufferPointer, with inflater: Inflater, limit: Int
) -> (status: InflateStatus, bytes: [UInt8]) {
    var output = InflatedBytes()
    inflater.startMessage(limit: limit)
    for (index, chunk) in chunks.enumerated() {
        let piece = UnsafeRawBufferPointer(rebasing: payload[chunk])
        let status = withExactCopy(of: piece, emptyHasBase: index & 1 == 0) {
            inflater.inflate(UnsafeRawBufferPointer($0), into: &output)
        }
        if status != .ok { return (status, output.bytes) }
    }
    return (inflater.finishMessage(into: &output), output.bytes)
}

/// What inflated fine compresses and inflates back to itself, with the same window.
func checkRoundTrip(_ message: [UInt8], windowBits: Int, inflater: Inflater, limit: Int) {
    guard let deflater = Deflater(windowBits: windowBits, contextTakeover: false) else { return }
    var compressed: [UInt8] = []
    let succeeded = message.withUnsafeBytes { deflater.compress($0, appendingTo: &compressed) }
    fuzzCheck(succeeded, "deflate failed")
    fuzzCheck(compressed.count <= deflater.maximumCompressedCount(for: message.count), "compressed past the bound")
    let again = compressed.withUnsafeBytes { inflate([0..<compressed.count], of: $0, with: inflater, limit: limit) }
    fuzzCheck(again.status == .ok && again.bytes == message, "round trip: \(again.status)")
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzInflate_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
