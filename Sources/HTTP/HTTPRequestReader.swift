/// Frames whole requests, head then body, out of a byte stream, one after another.
///
/// Pipelined requests arriving in one piece come out in order: after `.complete`, feed the
/// bytes after `consumed` again. Only one request's bytes are ever held (a partial head, up
/// to `maxHeaderBytes`, or a partial body, up to `maxBodyBytes`). After `.failed` the stream
/// has lost its framing, so every later call fails the same: the connection must close.
public struct HTTPRequestReader {
    private enum State {
        case head
        /// The head is complete and its body is being read.
        case body(HTTPRequestHead, HTTPBodyReader)
        case failed(HTTPStatus)
    }

    /// Largest head (431), and largest trailer section of a chunked body (431).
    public let maxHeaderBytes: Int
    /// Largest body (413).
    public let maxBodyBytes: Int
    private var headParser: HTTPRequestParser
    private var state = State.head
    private var continueRequested = false

    /// `maxHeaderBytes` bounds a head (431) and, separately, a chunked body's trailers;
    /// `maxBodyBytes` bounds a body after its transfer coding is removed (413).
    public init(maxHeaderBytes: Int = 8192, maxBodyBytes: Int = 1 << 20) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        headParser = HTTPRequestParser(maxHeaderBytes: maxHeaderBytes)
    }

    /// True when no byte of a next request is held: between requests.
    public var isAtRequestBoundary: Bool {
        guard case .head = state else { return false }
        return headParser.bufferedByteCount == 0
    }

    /// How many bytes of an incomplete request are held.
    public var bufferedByteCount: Int {
        switch state {
        case .head: headParser.bufferedByteCount
        case .body(_, let reader): reader.body.count
        case .failed: 0
        }
    }

    /// Whether the request being read announced a body with `Expect: 100-continue` and its
    /// client waits for `100 Continue` before sending it (RFC 9110 §10.1.1). True once per
    /// request, after the `read` that completed its head.
    public mutating func takeContinueRequest() -> Bool {
        defer { continueRequested = false }
        return continueRequested
    }

    /// Feeds the next bytes; `.complete` says how many of them the request took.
    public mutating func read(_ bytes: UnsafeRawBufferPointer) -> HTTPParseResult<HTTPRequest> {
        switch state {
        case .failed(let status):
            return .failed(status)
        case .head:
            return readHead(bytes)
        case .body(let head, var reader):
            // Out of `state` first, so that the body buffer is not shared and grows in place.
            state = .head
            return readBody(bytes, from: 0, head: head, reader: &reader)
        }
    }

    private mutating func readHead(_ bytes: UnsafeRawBufferPointer) -> HTTPParseResult<HTTPRequest> {
        switch headParser.parse(bytes) {
        case .needMore:
            return .needMore
        case .failed(let status):
            return fail(status)
        case .complete(let head, let consumed):
            let framing: HTTPBodyFraming
            do throws(HTTPBodyFraming.Refusal) {
                framing = try HTTPBodyFraming(head)
            } catch {
                return fail(error.status)
            }
            var reader = HTTPBodyReader(framing: framing, maxBodyBytes: maxBodyBytes, maxTrailerBytes: maxHeaderBytes)
            let result = readBody(bytes, from: consumed, head: head, reader: &reader)
            if case .needMore = result, Self.expectsContinue(head) { continueRequested = true }
            return result
        }
    }

    private mutating func readBody(
        _ bytes: UnsafeRawBufferPointer, from offset: Int, head: HTTPRequestHead, reader: inout HTTPBodyReader
    ) -> HTTPParseResult<HTTPRequest> {
        switch reader.read(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
        case .needMore:
            state = .body(head, reader)
            return .needMore
        case .complete(let consumed):
            state = .head
            return .complete(HTTPRequest(head: head, body: reader.takeBody()), consumed: offset + consumed)
        case .failed(let status):
            return fail(status)
        }
    }

    private mutating func fail(_ status: HTTPStatus) -> HTTPParseResult<HTTPRequest> {
        state = .failed(status)
        continueRequested = false
        return .failed(status)
    }

    private static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        head.version >= .http1_1
            && head.values("Expect").contains { HTTPHeaderLookup.equalsIgnoringASCIICase($0, "100-continue") }
    }
}
