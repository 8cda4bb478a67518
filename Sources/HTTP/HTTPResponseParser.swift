/// Reads an HTTP response head incrementally, for the client side of the handshake.
///
/// Like ``HTTPRequestParser``: `.complete` tells how many bytes of the last
/// chunk belong to the head, since the server may send frames right after it.
package struct HTTPResponseParser {
    private var accumulator: HTTPHeadAccumulator

    package init(maxHeaderBytes: Int = 8192) {
        accumulator = HTTPHeadAccumulator(maxBytes: maxHeaderBytes)
    }

    package mutating func parse(_ bytes: UnsafeRawBufferPointer) -> HTTPParseResult<HTTPResponseHead> {
        accumulator.parse(bytes) { (head: [UInt8]) throws(HTTPHeadSyntax.Failure) in try HTTPResponseHead(parsing: head) }
    }
}
