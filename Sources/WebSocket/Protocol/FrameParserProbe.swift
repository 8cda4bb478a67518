/// The frame parser behind a non-generic face, for benchmarks and fuzzers outside this
/// module: it counts what the parser delivers and checks that payloads are readable. The
/// parser is specialised here, inside the module, so measurements see the real hot path.
@_spi(Internals)
public struct FrameParserProbe {
    /// What the parser delivered so far.
    public struct Counts: Equatable, Sendable {
        public var messages = 0
        public var payloadBytes = 0
        public var controlFrames = 0
        /// The close code the parser failed with, if it failed.
        public var failure: UInt16?
    }

    private var parser: FrameParser
    private var sink = CountingSink()
    public private(set) var counts = Counts()

    public init(role: Role, limits: FrameLimits = FrameLimits()) {
        parser = FrameParser(role: role, limits: limits)
    }

    /// Parses `bytes` (unmasked in place). Returns false once the peer broke the protocol.
    @discardableResult
    public mutating func parse(_ bytes: UnsafeMutableRawBufferPointer) -> Bool {
        let outcome = parser.parse(bytes, into: &sink)
        counts.messages = sink.messages
        counts.payloadBytes = sink.payloadBytes
        counts.controlFrames = sink.controlFrames
        if case .failed(let error) = outcome {
            counts.failure = error.closeCode.rawValue
            return false
        }
        return true
    }

    /// True while the parser holds a partial frame or message.
    public var isHoldingBytes: Bool { parser.isHoldingBytes }

    /// Frees the parser's buffer.
    public mutating func release() {
        parser.releaseBuffers()
    }
}

private struct CountingSink: FrameSink {
    var messages = 0
    var payloadBytes = 0
    var controlFrames = 0
    /// Folded over every payload byte's first and last, so the reads cannot be optimised away.
    var checksum: UInt8 = 0

    mutating func message(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        messages += 1
        payloadBytes += payload.count
        if let first = payload.first, let last = payload.last { checksum ^= first ^ last }
        return true
    }

    mutating func ping(_ payload: UnsafeRawBufferPointer) -> Bool {
        controlFrames += 1
        return true
    }

    mutating func pong(_ payload: UnsafeRawBufferPointer) -> Bool {
        controlFrames += 1
        return true
    }

    mutating func close(code: CloseCode?, reason: UnsafeRawBufferPointer) -> Bool {
        controlFrames += 1
        return true
    }
}
