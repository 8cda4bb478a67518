/// Reads an HTTP request head incrementally, from bytes as they arrive.
///
/// Heads only: ``HTTPRequestReader`` reads the body that follows. After `.complete`
/// or `.failed` the parser frees its buffer and is ready for a new request.
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
