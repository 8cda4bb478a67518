/// Reads an HTTP response head incrementally, for the client side of the handshake.
///
/// Like ``HTTPRequestParser``: `.complete` tells how many bytes of the last
/// chunk belong to the head, since the server may send frames right after it.
struct HTTPResponseParser {
    private var accumulator: HTTPHeadAccumulator

    init(maxHeaderBytes: Int = 8192) {
        accumulator = HTTPHeadAccumulator(maxBytes: maxHeaderBytes)
    }

    mutating func parse(_ bytes: UnsafeRawBufferPointer) -> HTTPParseResult<HTTPResponseHead> {
        switch accumulator.feed(bytes) {
        case .needMore:
            return .needMore
        case .tooLarge:
            accumulator.reset()
            return .failed(.requestHeaderFieldsTooLarge)
        case .complete(let consumed):
            defer { accumulator.reset() }
            do {
                return .complete(try HTTPResponseHead(parsing: accumulator.bytes), consumed: consumed)
            } catch {
                return .failed(error.status)
            }
        }
    }
}
