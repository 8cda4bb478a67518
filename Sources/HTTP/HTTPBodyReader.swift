/// Reads a request body incrementally, as its bytes arrive in pieces of any size:
/// a `Content-Length` body, or the chunked transfer coding (RFC 9112 §7.1).
///
/// The body never grows past `maxBodyBytes`: a declared length over it fails at once, and
/// a chunk whose size would take the body past it fails when its size line says so, before
/// any of its data is kept. Chunk extensions and trailer fields are skipped, each bounded.
/// Line ends inside the chunked coding must be CRLF: a bare LF or CR is a framing the
/// next hop might read differently.
public struct HTTPBodyReader {
    /// The outcome of feeding bytes.
    public enum Progress: Equatable, Sendable {
        /// The body is not complete; every byte was taken.
        case needMore
        /// The body is complete after `consumed` bytes of the last piece; the rest belongs
        /// to whatever follows (a pipelined request).
        case complete(consumed: Int)
        /// 400 (malformed chunked coding), 413 (over the limit) or 431 (trailers too large).
        case failed(HTTPStatus)
    }

    private enum State: Equatable {
        case fixed(remaining: Int)
        /// The hex digits of a chunk size, before its first digit when `hasDigit` is false.
        case chunkSize(size: Int, hasDigit: Bool)
        /// After the size: optional whitespace and `;` extensions up to the CR.
        case chunkExtension(size: Int, hasSemicolon: Bool)
        /// The CR of a chunk-size line was seen: its LF must follow.
        case chunkSizeLineFeed(size: Int)
        case chunkData(remaining: Int)
        /// The CRLF that follows a chunk's data.
        case chunkDataCarriageReturn
        case chunkDataLineFeed
        /// At the start of a trailer field line, or of the empty line that ends the body.
        case trailerLineStart
        case trailerLine
        /// The CR of a trailer line was seen; `endsBody` when the line was empty.
        case trailerLineFeed(endsBody: Bool)
        case complete
        case failed(HTTPStatus)
    }

    /// Longest chunk-size line, extensions included: they are skipped, not stored, but a
    /// peer must not keep the reader busy forever on one line.
    public static let maxChunkLineBytes = 1024

    /// Most bytes of body kept, after the chunked coding is removed.
    public let maxBodyBytes: Int
    /// Most bytes of trailer fields, which are read and dropped.
    public let maxTrailerBytes: Int
    /// The body so far; all of it after `.complete`.
    public private(set) var body: [UInt8] = []
    private var state: State
    /// Bytes of the current chunk-size line, or of the trailer section.
    private var lineBytes = 0

    /// A reader for a body framed as `framing`. A `Content-Length` over `maxBodyBytes` fails
    /// (413) on the first `read`, which may be given no bytes.
    public init(framing: HTTPBodyFraming, maxBodyBytes: Int, maxTrailerBytes: Int = 8192) {
        self.maxBodyBytes = maxBodyBytes
        self.maxTrailerBytes = maxTrailerBytes
        switch framing {
        case .none:
            state = .complete
        case .length(let length) where length > maxBodyBytes:
            state = .failed(.contentTooLarge)
        case .length(let length):
            state = .fixed(remaining: length)
            // Grown as bytes come, not reserved from the declared length: a head alone must
            // not make the server allocate the limit.
            body.reserveCapacity(min(length, 16 * 1024))
        case .chunked:
            state = .chunkSize(size: 0, hasDigit: false)
        }
    }

    /// Whether the body is complete.
    public var isComplete: Bool { state == .complete }

    /// The body, leaving the reader empty.
    public mutating func takeBody() -> [UInt8] {
        defer { body = [] }
        return body
    }

    /// Feeds the next bytes. After `.complete` or `.failed` the reader keeps answering the same.
    public mutating func read(_ bytes: UnsafeRawBufferPointer) -> Progress {
        var index = 0
        while true {
            switch state {
            case .complete:
                return .complete(consumed: index)
            case .failed(let status):
                return .failed(status)
            case .fixed(let remaining), .chunkData(let remaining):
                guard index < bytes.count else { return .needMore }
                index += takeData(bytes, from: index, remaining: remaining)
            default:
                guard index < bytes.count else { return .needMore }
                step(bytes[index])
                index += 1
            }
        }
    }

    /// Appends up to `remaining` data bytes and returns how many it took.
    private mutating func takeData(_ bytes: UnsafeRawBufferPointer, from index: Int, remaining: Int) -> Int {
        let count = min(remaining, bytes.count - index)
        body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)]))
        let left = remaining - count
        switch state {
        case .fixed:
            state = left == 0 ? .complete : .fixed(remaining: left)
        default:
            state = left == 0 ? .chunkDataCarriageReturn : .chunkData(remaining: left)
        }
        return count
    }

    /// One byte of the chunked coding's framing.
    private mutating func step(_ byte: UInt8) {
        switch state {
        case .chunkSize(let size, let hasDigit):
            guard countLineByte() else { return }
            chunkSize(byte, size: size, hasDigit: hasDigit)
        case .chunkExtension(let size, let hasSemicolon):
            guard countLineByte() else { return }
            chunkExtension(byte, size: size, hasSemicolon: hasSemicolon)
        case .chunkSizeLineFeed(let size):
            guard byte == UInt8(ascii: "\n") else { return fail(.badRequest) }
            lineBytes = 0
            state = size == 0 ? .trailerLineStart : .chunkData(remaining: size)
        case .chunkDataCarriageReturn:
            guard byte == UInt8(ascii: "\r") else { return fail(.badRequest) }
            state = .chunkDataLineFeed
        case .chunkDataLineFeed:
            guard byte == UInt8(ascii: "\n") else { return fail(.badRequest) }
            state = .chunkSize(size: 0, hasDigit: false)
        case .trailerLineStart, .trailerLine, .trailerLineFeed:
            trailer(byte)
        case .fixed, .chunkData, .complete, .failed:
            // Handled by `read`: data in bulk, the end states before any byte.
            break
        }
    }

    private mutating func chunkSize(_ byte: UInt8, size: Int, hasDigit: Bool) {
        guard let digit = Self.hexValue(byte) else {
            guard hasDigit else { return fail(.badRequest) }
            if byte == UInt8(ascii: "\r") {
                state = .chunkSizeLineFeed(size: size)
                return
            }
            return chunkExtension(byte, size: size, hasSemicolon: false)
        }
        let (times16, overflowA) = size.multipliedReportingOverflow(by: 16)
        let (next, overflowB) = times16.addingReportingOverflow(digit)
        // A size that does not fit in an Int is no size a peer can mean.
        guard !overflowA, !overflowB else { return fail(.badRequest) }
        // Known too large from the size alone: refuse before any of the data is kept.
        guard next <= maxBodyBytes - body.count else { return fail(.contentTooLarge) }
        state = .chunkSize(size: next, hasDigit: true)
    }

    /// `*( BWS ";" BWS name [ BWS "=" BWS value ] )`, skipped: whitespace only before a `;`,
    /// then any field-value bytes up to the CR.
    private mutating func chunkExtension(_ byte: UInt8, size: Int, hasSemicolon: Bool) {
        switch byte {
        case UInt8(ascii: "\r"):
            // Whitespace after the size is allowed only before a `;` (BWS).
            guard hasSemicolon else { return fail(.badRequest) }
            state = .chunkSizeLineFeed(size: size)
        case UInt8(ascii: ";"):
            state = .chunkExtension(size: size, hasSemicolon: true)
        case UInt8(ascii: " "), UInt8(ascii: "\t"):
            state = .chunkExtension(size: size, hasSemicolon: hasSemicolon)
        default:
            guard hasSemicolon, HTTPHeadSyntax.isFieldValueByte(byte) else { return fail(.badRequest) }
        }
    }

    /// Trailer field lines up to the empty line, dropped; bounded like a head (431).
    private mutating func trailer(_ byte: UInt8) {
        lineBytes += 1
        guard lineBytes <= maxTrailerBytes else { return fail(.requestHeaderFieldsTooLarge) }
        switch state {
        case .trailerLineStart where byte == UInt8(ascii: "\r"):
            state = .trailerLineFeed(endsBody: true)
        case .trailerLineStart, .trailerLine:
            if byte == UInt8(ascii: "\r") {
                state = .trailerLineFeed(endsBody: false)
            } else if HTTPHeadSyntax.isFieldValueByte(byte) {
                state = .trailerLine
            } else {
                // A bare LF, or a control character.
                fail(.badRequest)
            }
        case .trailerLineFeed(let endsBody):
            guard byte == UInt8(ascii: "\n") else { return fail(.badRequest) }
            state = endsBody ? .complete : .trailerLineStart
        default:
            break
        }
    }

    /// Counts a byte of the chunk-size line; false (and failed) past the bound.
    private mutating func countLineByte() -> Bool {
        lineBytes += 1
        guard lineBytes <= Self.maxChunkLineBytes else {
            fail(.badRequest)
            return false
        }
        return true
    }

    private mutating func fail(_ status: HTTPStatus) {
        state = .failed(status)
        body = []
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }
}
