import FuzzSupport
@_spi(Internals) import WebSocket
import HTTP

/// The upgrade-request head parser.
///
/// Input: byte 0 is the control byte (bits 0–2: largest chunk, see `Splitter`;
/// bits 6–7: the head size limit), byte 1 seeds the chunk sizes, the rest is what
/// the client sends. Heads are parsed one after the other (the parser starts over
/// after each), up to the first failure, once in one call per request and once in
/// chunks: both must give the same heads, ending at the same offsets, or the same
/// failure. Every complete head must be sane, and must parse again the same once
/// written out canonically.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 2 else { return 0 }
    let control = start.load(as: UInt8.self)
    let seed = start.load(fromByteOffset: 1, as: UInt8.self)
    let stream = UnsafeRawBufferPointer(start: start + 2, count: count - 2)
    let maxHeaderBytes = [8192, 8192, 1024, 100][Int(control >> 6)]

    var splitter = Splitter(control: control, seed: seed)
    let inOneCall = parseRequests(stream, chunks: [0..<stream.count], maxHeaderBytes: maxHeaderBytes)
    let inChunks = parseRequests(stream, chunks: splitter.chunks(count: stream.count), maxHeaderBytes: maxHeaderBytes)
    fuzzCheck(inOneCall == inChunks, "one call gave \(inOneCall), chunks gave \(inChunks)")
    return 0
}

/// What parsing a stream gave, in order.
enum Event: Equatable {
    /// A head ending at `end` in the stream.
    case complete(Head, end: Int)
    case failed(status: Int)
}

/// The fields of an `HTTPRequestHead`, comparable.
struct Head: Equatable {
    var method: String
    var target: String
    var path: String
    var query: String?
    var major: Int
    var minor: Int
    var headers: [[String]]

    init(_ head: HTTPRequestHead) {
        method = head.method
        target = head.target
        path = head.path
        query = head.query
        major = head.version.major
        minor = head.version.minor
        headers = head.headers.map { [$0.name, $0.value] }
    }
}

func parseRequests(_ stream: UnsafeRawBufferPointer, chunks: [Range<Int>], maxHeaderBytes: Int) -> [Event] {
    var parser = HTTPRequestParser(maxHeaderBytes: maxHeaderBytes)
    var events: [Event] = []
    var requestStart = 0
    for chunk in chunks {
        var offset = chunk.lowerBound
        repeat {
            let bytes = UnsafeRawBufferPointer(rebasing: stream[offset..<chunk.upperBound])
            let result = withExactCopy(of: bytes) { parser.parse(UnsafeRawBufferPointer($0)) }
            switch result {
            case .needMore:
                offset = chunk.upperBound
            case .complete(let head, let consumed):
                fuzzCheck(consumed >= 1 && consumed <= bytes.count, "consumed \(consumed) of a \(bytes.count)-byte chunk")
                let end = offset + consumed
                checkSane(head, stream: stream, start: requestStart, end: end, maxHeaderBytes: maxHeaderBytes)
                events.append(.complete(Head(head), end: end))
                requestStart = end
                offset = end
            case .failed(let status):
                fuzzCheck([400, 431, 505].contains(status.code), "unexpected status \(status.code)")
                if status.code == 431 {
                    fuzzCheck(offset + bytes.count - requestStart > maxHeaderBytes, "431 for a head within the limit")
                }
                events.append(.failed(status: status.code))
                return events
            }
        } while offset < chunk.upperBound
    }
    return events
}

func checkSane(_ head: HTTPRequestHead, stream: UnsafeRawBufferPointer, start: Int, end: Int, maxHeaderBytes: Int) {
    let newline = UInt8(ascii: "\n")
    fuzzCheck(end - start <= maxHeaderBytes, "a head of \(end - start) bytes passed a limit of \(maxHeaderBytes)")
    fuzzCheck(end - start >= 2 && stream[end - 1] == newline, "the head does not end with a line end")
    let endsWithEmptyLine = stream[end - 2] == newline || (end - start >= 3 && stream[end - 2] == UInt8(ascii: "\r") && stream[end - 3] == newline)
    fuzzCheck(endsWithEmptyLine, "the head does not end with an empty line")

    fuzzCheck(!head.method.isEmpty && head.method.utf8.allSatisfy(isTokenByte), "method \(head.method.debugDescription)")
    fuzzCheck(!head.target.isEmpty && head.target.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "target \(head.target.debugDescription)")
    fuzzCheck(head.version.major == 1 && (0...9).contains(head.version.minor), "version \(head.version)")
    fuzzCheck(!head.path.isEmpty && !head.path.contains("?"), "path \(head.path.debugDescription) of \(head.target.debugDescription)")
    if let query = head.query {
        fuzzCheck(head.target.hasSuffix(query), "query \(query.debugDescription) of \(head.target.debugDescription)")
    }
    for (name, value) in head.headers {
        fuzzCheck(!name.isEmpty && name.utf8.allSatisfy(isTokenByte), "field name \(name.debugDescription)")
        let isWhitespace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        fuzzCheck(value.utf8.allSatisfy { $0 == UInt8(ascii: "\t") || ($0 >= 0x20 && $0 != 0x7F) }, "field value \(value.debugDescription)")
        fuzzCheck(!(value.utf8.first.map(isWhitespace) ?? false) && !(value.utf8.last.map(isWhitespace) ?? false), "untrimmed value \(value.debugDescription)")
        fuzzCheck(head.values(name).contains(value), "values(\(name.debugDescription)) misses \(value.debugDescription)")
    }
    if let first = head.headers.first {
        fuzzCheck(head.value(first.name) == first.value, "value(\(first.name.debugDescription)) is not the first field's")
    }
    // The lookups the upgrade runs, on arbitrary fields.
    _ = head.hasToken("websocket", in: "Upgrade")
    _ = head.hasToken("Upgrade", in: "Connection")
    _ = head.requestedSubprotocols

    // Written out canonically (CRLF, one space after the colon), the head parses the same.
    var canonical = Array("\(head.method) \(head.target) HTTP/\(head.version.major).\(head.version.minor)\r\n".utf8)
    for (name, value) in head.headers {
        canonical += Array("\(name): \(value)\r\n".utf8)
    }
    canonical += Array("\r\n".utf8)
    var parser = HTTPRequestParser(maxHeaderBytes: canonical.count)
    let reparsed = canonical.withUnsafeBytes { parser.parse($0) }
    switch reparsed {
    case .complete(let again, let consumed):
        fuzzCheck(consumed == canonical.count, "the canonical head ended early")
        fuzzCheck(Head(again) == Head(head), "the canonical head parsed as \(Head(again)), not \(Head(head))")
    case .needMore, .failed:
        fuzzCheck(false, "the canonical form of an accepted head was refused: \(reparsed)")
    }
}

/// tchar (RFC 9110 §5.6.2).
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        true
    default:
        "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzHTTPRequest_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
