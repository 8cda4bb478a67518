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

    /// Feeds the next bytes of the stream: `.needMore` until the head is complete, then
    /// `.complete` with the head and how many of `bytes` it used, or `.failed` with the status
    /// to answer. Bytes past the head are not consumed; hand them to the body reader.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> HTTPParseResult<HTTPRequestHead> {
        accumulator.parse(bytes) { (head: [UInt8]) throws(HTTPHeadSyntax.Failure) in try HTTPRequestHead(parsing: head) }
    }
}
