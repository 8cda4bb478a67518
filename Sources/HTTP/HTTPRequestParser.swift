/// Reads an HTTP request head incrementally, from bytes as they arrive.
///
/// Bodies are not read: a WebSocket upgrade has none, and ``UpgradeRequest``
/// rejects requests that announce one. After `.complete` or `.failed` the
/// parser frees its buffer and is ready for a new request.
public struct HTTPRequestParser {
    private var accumulator: HTTPHeadAccumulator

    /// `maxHeaderBytes` bounds the whole head, start line included; a longer
    /// head fails with 431.
    public init(maxHeaderBytes: Int = 8192) {
        accumulator = HTTPHeadAccumulator(maxBytes: maxHeaderBytes)
    }

    /// How many bytes of an incomplete head are buffered.
    package var bufferedByteCount: Int { accumulator.bytes.count }

    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> HTTPParseResult<HTTPRequestHead> {
        accumulator.parse(bytes) { (head: [UInt8]) throws(HTTPHeadSyntax.Failure) in try HTTPRequestHead(parsing: head) }
    }
}
