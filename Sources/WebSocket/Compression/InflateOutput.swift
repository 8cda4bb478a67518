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

    /// Lends a stack scratch area, then copies what was written: one copy, no allocation
    /// beyond the array's own growth.
    public mutating func appendBytes(upTo maximum: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) {
        withUnsafeTemporaryAllocation(byteCount: min(maximum, 16 * 1024), alignment: 1) { scratch in
            let written = body(scratch)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<written]))
        }
    }
}
