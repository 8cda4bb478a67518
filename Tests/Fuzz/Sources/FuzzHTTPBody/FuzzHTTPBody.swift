import FuzzSupport
import HTTP

/// Whole requests, heads and bodies, framed out of one stream (`HTTPRequestReader`).
///
/// Input: byte 0 is the control byte (bits 0–2: largest chunk, see `Splitter`; bit 5: the
/// stream is the body of a chunked POST, so that the fuzzer starts inside the chunked
/// coding; bits 6–7: the limits), byte 1 seeds the chunk sizes, the rest is the stream.
/// Requests are read one after another up to the first failure, in one call per request
/// and in chunks: both must give the same requests (method, target, body), ending at the
/// same offsets, or the same failure. The reader never holds more than its limits, and a
/// body read from the chunked coding reads back the same sent with a `Content-Length`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 2 else { return 0 }
    let control = start.load(as: UInt8.self)
    let seed = start.load(fromByteOffset: 1, as: UInt8.self)
    let (maxHeaderBytes, maxBodyBytes) = [(8192, 1 << 20), (1024, 4096), (256, 64), (100, 0)][Int(control >> 6)]
    var stream = control & 0x20 != 0 ? Array("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) : []
    stream += UnsafeRawBufferPointer(start: start + 2, count: count - 2)

    stream.withUnsafeBytes { stream in
        let limits = Limits(header: maxHeaderBytes, body: maxBodyBytes)
        var splitter = Splitter(control: control, seed: seed)
        let inOneCall = readRequests(stream, chunks: [0..<stream.count], limits: limits)
        let inChunks = readRequests(stream, chunks: splitter.chunks(count: stream.count), limits: limits)
        fuzzCheck(inOneCall == inChunks, "one call gave \(inOneCall), chunks gave \(inChunks)")
        for case .request(let request, _) in inOneCall where request.chunked {
            checkReframed(request, limits: limits)
        }
    }
    return 0
}

struct Limits {
    var header: Int
    var body: Int
}

/// A request as compared between runs.
struct Request: Equatable {
    var method: String
    var target: String
    var chunked: Bool
    var body: [UInt8]
}

enum Event: Equatable {
    /// A request ending at `end` in the stream.
    case request(Request, end: Int)
    case failed(status: Int)
}

func readRequests(_ stream: UnsafeRawBufferPointer, chunks: [Range<Int>], limits: Limits) -> [Event] {
    var reader = HTTPRequestReader(maxHeaderBytes: limits.header, maxBodyBytes: limits.body)
    var events: [Event] = []
    for chunk in chunks {
        var offset = chunk.lowerBound
        repeat {
            let bytes = UnsafeRawBufferPointer(rebasing: stream[offset..<chunk.upperBound])
            let result = withExactCopy(of: bytes) { reader.read(UnsafeRawBufferPointer($0)) }
            fuzzCheck(reader.bufferedByteCount <= max(limits.header, limits.body), "holds \(reader.bufferedByteCount) bytes")
            switch result {
            case .needMore:
                offset = chunk.upperBound
            case .complete(let request, let consumed):
                fuzzCheck(consumed > 0 && consumed <= bytes.count, "consumed \(consumed) of a \(bytes.count)-byte chunk")
                fuzzCheck(request.body.count <= limits.body, "a body of \(request.body.count) bytes passed a limit of \(limits.body)")
                let chunked = !request.head.values("Transfer-Encoding").isEmpty
                events.append(.request(Request(method: request.head.method, target: request.head.target, chunked: chunked, body: request.body), end: offset + consumed))
                offset += consumed
            case .failed(let status):
                fuzzCheck([400, 413, 431, 501, 505].contains(status.code), "unexpected status \(status.code)")
                fuzzCheck(reader.bufferedByteCount == 0, "a failed reader holds bytes")
                events.append(.failed(status: status.code))
                return events
            }
        } while offset < chunk.upperBound
    }
    return events
}

/// A chunked body, sent again with a `Content-Length` and as one chunk, reads back the same.
func checkReframed(_ request: Request, limits: Limits) {
    let head = "POST / HTTP/1.1\r\n"
    // An empty body is the last chunk alone: a chunk of size 0 would end the body.
    let oneChunk = request.body.isEmpty ? [] : Array("\(String(request.body.count, radix: 16))\r\n".utf8) + request.body + Array("\r\n".utf8)
    let resent = [
        Array("\(head)Content-Length: \(request.body.count)\r\n\r\n".utf8) + request.body,
        Array("\(head)Transfer-Encoding: chunked\r\n\r\n".utf8) + oneChunk + Array("0\r\n\r\n".utf8),
    ]
    for bytes in resent {
        var reader = HTTPRequestReader(maxHeaderBytes: 8192, maxBodyBytes: limits.body)
        let result = bytes.withUnsafeBytes { reader.read($0) }
        guard case .complete(let again, let consumed) = result else {
            fuzzCheck(false, "a body of \(request.body.count) bytes sent again gave \(result)")
            return
        }
        fuzzCheck(consumed == bytes.count && again.body == request.body, "a body sent again read back differently")
    }
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzHTTPBody_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
