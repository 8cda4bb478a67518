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
        /// A hash of every delivered payload, in order (only with `digestPayloads`), so that
        /// two ways of parsing the same stream can be compared byte for byte.
        public var payloadDigest: UInt64 = 0
    }

    private var parser = FrameParser()
    private let rules: FrameRules
    private var sink = CountingSink()
    public private(set) var counts = Counts()

    /// `digestPayloads` hashes every payload byte (for fuzzing); benchmarks leave it off.
    public init(role: Role, limits: FrameLimits = FrameLimits(), digestPayloads: Bool = false) {
        rules = FrameRules(role: role, limits: limits)
        sink.digestPayloads = digestPayloads
        counts.payloadDigest = sink.digest
    }

    /// Parses `bytes` (unmasked in place). Returns false once the peer broke the protocol.
    @discardableResult
    public mutating func parse(_ bytes: UnsafeMutableRawBufferPointer) -> Bool {
        let outcome = parser.parse(bytes, rules: rules, into: &sink)
        counts.messages = sink.messages
        counts.payloadBytes = sink.payloadBytes
        counts.controlFrames = sink.controlFrames
        counts.payloadDigest = sink.digest
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
    var digestPayloads = false
    /// FNV-1a over the payloads with `digestPayloads`; otherwise folded over each payload's
    /// first and last byte, just so the reads cannot be optimised away.
    var digest: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func message(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        messages += 1
        payloadBytes += payload.count
        absorb(opcode, payload)
        return true
    }

    /// Counted as a message, still compressed: the probe measures the parser alone.
    mutating func compressedMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        message(opcode, payload)
    }

    mutating func ping(_ payload: UnsafeRawBufferPointer) -> Bool {
        controlFrames += 1
        absorb(.ping, payload)
        return true
    }

    mutating func pong(_ payload: UnsafeRawBufferPointer) -> Bool {
        controlFrames += 1
        absorb(.pong, payload)
        return true
    }

    mutating func close(code: CloseCode?, reason: UnsafeRawBufferPointer) -> Bool {
        controlFrames += 1
        absorb(.close, reason)
        return true
    }

    private mutating func absorb(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) {
        if digestPayloads {
            mix(opcode.rawValue)
            for byte in payload { mix(byte) }
            mix(0xFF)
        } else if let first = payload.first, let last = payload.last {
            digest ^= UInt64(first ^ last)
        }
    }

    private mutating func mix(_ byte: UInt8) {
        digest = (digest ^ UInt64(byte)) &* 0x100_0000_01B3
    }
}
