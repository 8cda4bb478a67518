/// Collects the bytes of an HTTP head (start line and header fields) across
/// reads, up to and including the empty line that ends it.
///
/// Each byte is looked at once: the search for the end carries its state from
/// one read to the next instead of rescanning. Only the head's own bytes are
/// kept; whatever follows it in the same read is left to the caller.
///
/// Line ends: CRLF, or a bare LF, which RFC 9112 §2.2 lets a recipient accept
/// and which some hand-written clients send. A CR anywhere but before an LF is
/// left in the head, for the line parser to reject.
package struct HTTPHeadAccumulator {
    package enum Progress: Equatable {
        case needMore
        /// The head ends after `consumed` bytes of the last chunk.
        case complete(consumed: Int)
        /// The head would exceed the size limit.
        case tooLarge
    }

    /// Where the scan stands relative to line ends.
    private enum LineEnd {
        /// Inside a line (or at the very start, so that one leading empty line,
        /// which RFC 9112 §2.2 says to ignore, does not end the head).
        case inLine
        /// Right after an LF: another line end here ends the head.
        case atLineStart
        /// After an LF and a CR.
        case atLineStartAfterCR
    }

    package let maxBytes: Int
    /// The head so far; complete after `.complete`.
    package private(set) var bytes: [UInt8] = []
    private var lineEnd = LineEnd.inLine

    package init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    package mutating func feed(_ chunk: UnsafeRawBufferPointer) -> Progress {
        let room = maxBytes - bytes.count
        for index in 0..<min(chunk.count, room) {
            if endsHead(after: chunk[index]) {
                bytes.append(contentsOf: chunk[0...index])
                return .complete(consumed: index + 1)
            }
        }
        guard chunk.count <= room else { return .tooLarge }
        bytes.append(contentsOf: chunk)
        return .needMore
    }

    /// Feeds `chunk` and, once the head is complete, decodes it with `decode`; the buffer
    /// is freed after a complete or failed head. Shared by the request and response parsers.
    package mutating func parse<Head>(
        _ chunk: UnsafeRawBufferPointer, decode: ([UInt8]) throws(HTTPHeadSyntax.Failure) -> Head
    ) -> HTTPParseResult<Head> {
        switch feed(chunk) {
        case .needMore:
            return .needMore
        case .tooLarge:
            reset()
            return .failed(.requestHeaderFieldsTooLarge)
        case .complete(let consumed):
            defer { reset() }
            do throws(HTTPHeadSyntax.Failure) {
                return .complete(try decode(bytes), consumed: consumed)
            } catch {
                return .failed(error.status)
            }
        }
    }

    /// Forgets the head and frees its memory.
    package mutating func reset() {
        bytes = []
        lineEnd = .inLine
    }

    private mutating func endsHead(after byte: UInt8) -> Bool {
        switch (byte, lineEnd) {
        case (UInt8(ascii: "\n"), .atLineStart), (UInt8(ascii: "\n"), .atLineStartAfterCR):
            return true
        case (UInt8(ascii: "\n"), .inLine):
            lineEnd = .atLineStart
        case (UInt8(ascii: "\r"), .atLineStart):
            lineEnd = .atLineStartAfterCR
        default:
            lineEnd = .inLine
        }
        return false
    }
}
