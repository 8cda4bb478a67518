/// Where an ``Inflater`` writes: a buffer that lends writable room at its end.
///
/// Generic rather than a closure or an existential, so that each conformance is
/// specialised into the inflate loop.
@_spi(Internals)
public protocol InflateOutput {
    /// Lends room for 1 to `maximum` more bytes to `body`, which returns how many it
    /// wrote there (from the start); those bytes are then part of the buffer.
    mutating func appendBytes(upTo maximum: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int)
}

/// An ``InflateOutput`` that collects into an array: simple, for tests, tools and
/// the fuzzers; the connection writes into its own message buffer instead.
@_spi(Internals)
public struct InflatedBytes: InflateOutput {
    public var bytes: [UInt8] = []

    public init() {}

    /// Grows by at least 4 KiB, or by the size already held, so that a large message
    /// costs a logarithmic number of reallocations.
    public mutating func appendBytes(upTo maximum: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) {
        let start = bytes.count
        let room = min(maximum, max(4096, start))
        bytes.append(contentsOf: repeatElement(0, count: room))
        let written = bytes.withUnsafeMutableBytes { all in
            body(UnsafeMutableRawBufferPointer(rebasing: all[start..<(start + room)]))
        }
        bytes.removeLast(room - written)
    }
}
