import FuzzSupport
import Push
import Redis

/// The RESP reader (hiredis's, through the shim) on untrusted bytes.
///
/// Byte 0 picks the largest chunk, byte 1 seeds the chunk sizes, the rest is the stream.
/// The stream is decoded in one feed and in chunks (some empty): the replies and whether
/// it failed must be the same. Every reply that is an array of bulk strings (a command's
/// shape), encoded as a command, must decode back to itself. Every reply is also read as the
/// backplane's stream range (`StreamRange`): it is refused, or its entries rise strictly from
/// the offset asked for (byte 1) up to the topic's offset.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 2 else { return 0 }
    let input = UnsafeRawBufferPointer(start: start, count: count)
    let stream = UnsafeRawBufferPointer(rebasing: input[2...])
    var splitter = Splitter(control: input[0], seed: input[1])
    let whole = decode(stream, chunks: [0..<stream.count])
    let chunked = decode(stream, chunks: splitter.chunks(count: stream.count))
    fuzzCheck(whole.values == chunked.values, "whole \(whole.values) but chunked \(chunked.values)")
    fuzzCheck(whole.failed == chunked.failed, "whole failed: \(whole.failed), chunked: \(chunked.failed)")
    for value in whole.values {
        checkRoundTrip(value)
        checkStreamRange(value, first: UInt64(input[1] % 8))
    }
    return 0
}

private func decode(_ stream: UnsafeRawBufferPointer, chunks: [Range<Int>]) -> (values: [RESPValue], failed: Bool) {
    let reader = RESPReader()
    var values: [RESPValue] = []
    do throws(RESPReader.ProtocolError) {
        for chunk in chunks {
            // An exact-size copy per chunk, so AddressSanitizer sees reads past it.
            let fed = withExactCopy(of: UnsafeRawBufferPointer(rebasing: stream[chunk])) { copy in
                Result { () throws(RESPReader.ProtocolError) in try reader.feed(UnsafeRawBufferPointer(copy)) }
            }
            try fed.get()
            while let value = try reader.next() { values.append(value) }
        }
    } catch {
        return (values, true)
    }
    return (values, false)
}

private func checkRoundTrip(_ value: RESPValue) {
    guard case .array(let items) = value, !items.isEmpty else { return }
    var arguments: [[UInt8]] = []
    for item in items {
        guard case .bulk(let bytes) = item else { return }
        arguments.append(bytes)
    }
    let encoded = RESPCommand.encode(arguments)
    let back = encoded.withUnsafeBytes { decode($0, chunks: [0..<encoded.count]) }
    fuzzCheck(back.values == [value] && !back.failed, "\(value) encoded as a command decodes as \(back.values)")
}

private func checkStreamRange(_ value: RESPValue, first: UInt64) {
    guard let range = try? StreamRange(parsing: value, first: first) else { return }
    var previous = first == 0 ? 0 : first - 1
    for entry in range.entries {
        fuzzCheck(entry.offset > previous && entry.offset <= range.position.offset, "entry \(entry.offset) accepted out of order in \(value)")
        previous = entry.offset
    }
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzRESP_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
