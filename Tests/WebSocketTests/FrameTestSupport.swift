import Testing

@_spi(Internals) @testable import WebSocket

/// What a parser delivered, copied out of the borrowed payloads.
enum FrameEvent: Hashable, CustomStringConvertible {
    case message(Opcode, [UInt8])
    /// A message with RSV1 set, delivered still compressed.
    case compressedMessage(Opcode, [UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(CloseCode?, [UInt8])

    static func text(_ string: String) -> FrameEvent { .message(.text, Array(string.utf8)) }

    var description: String {
        switch self {
        case .message(let opcode, let payload): "message(\(opcode), \(payload.count) bytes)"
        case .compressedMessage(let opcode, let payload): "compressedMessage(\(opcode), \(payload.count) bytes)"
        case .ping(let payload): "ping(\(payload.count) bytes)"
        case .pong(let payload): "pong(\(payload.count) bytes)"
        case .close(let code, let reason): "close(\(code.map(\.description) ?? "nil"), \(reason.count) bytes)"
        }
    }
}

/// A sink that records everything and can be told when to stop.
struct RecordingSink: FrameSink {
    var events: [FrameEvent] = []
    /// Where each message payload lay in memory, to check for zero copy.
    var messageAddresses: [UnsafeRawPointer?] = []
    var stopsAfterClose = false
    var stopsAfterEveryEvent = false

    mutating func message(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        messageAddresses.append(payload.baseAddress)
        return record(.message(opcode, Array(payload)))
    }

    mutating func compressedMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        record(.compressedMessage(opcode, Array(payload)))
    }

    mutating func ping(_ payload: UnsafeRawBufferPointer) -> Bool {
        record(.ping(Array(payload)))
    }

    mutating func pong(_ payload: UnsafeRawBufferPointer) -> Bool {
        record(.pong(Array(payload)))
    }

    mutating func close(code: CloseCode?, reason: UnsafeRawBufferPointer) -> Bool {
        events.append(.close(code, Array(reason)))
        return !(stopsAfterClose || stopsAfterEveryEvent)
    }

    private mutating func record(_ event: FrameEvent) -> Bool {
        events.append(event)
        return !stopsAfterEveryEvent
    }
}

/// A masking key that exercises every byte lane.
let testMaskKey: UInt32 = 0xA1B2_C3D4

/// Encodes one frame as the peer of a parser with `role` would send it:
/// masked towards a server, unmasked towards a client.
func wireFrame(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true, to role: Role, maskKey: UInt32 = testMaskKey) -> [UInt8] {
    encodeFrame(opcode, payload, fin: fin, maskKey: role == .server ? maskKey : nil)
}

func wireFrame(_ opcode: Opcode, _ text: String, fin: Bool = true, to role: Role) -> [UInt8] {
    wireFrame(opcode, Array(text.utf8), fin: fin, to: role)
}

func encodeFrame(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true, maskKey: UInt32?) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: FrameEncoder.maxHeaderSize + payload.count)
    let written = bytes.withUnsafeMutableBytes { output in
        payload.withUnsafeBytes { payloadBytes in
            FrameEncoder.writeFrame(into: output.baseAddress!, opcode: opcode, fin: fin, payload: payloadBytes, maskKey: maskKey)
        }
    }
    return Array(bytes[..<written])
}

/// The result of feeding chunks to a fresh parser.
struct ParseRun {
    var events: [FrameEvent]
    /// The outcome of the last call made (parsing stops at the first failure or stop).
    var outcome: ParseOutcome
    var isHoldingBytes: Bool
    var bufferCapacity: Int
}

/// Feeds `chunks` one call each to a new parser, stopping at the first failure.
func parseFrames(_ chunks: [[UInt8]], role: Role, limits: FrameLimits = FrameLimits()) -> ParseRun {
    var parser = FrameParser()
    let rules = FrameRules(role: role, limits: limits)
    var sink = RecordingSink()
    var outcome = ParseOutcome.needMoreBytes
    for chunk in chunks {
        var bytes = chunk
        outcome = bytes.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) }
        if case .failed = outcome { break }
    }
    let run = ParseRun(
        events: sink.events, outcome: outcome, isHoldingBytes: parser.isHoldingBytes, bufferCapacity: parser.bufferCapacity)
    parser.releaseBuffers()
    return run
}

func parseFrames(_ bytes: [UInt8], role: Role, limits: FrameLimits = FrameLimits()) -> ParseRun {
    parseFrames([bytes], role: role, limits: limits)
}

/// `bytes` cut in two at `point`.
func cutInTwo(_ bytes: [UInt8], at point: Int) -> [[UInt8]] {
    [Array(bytes[..<point]), Array(bytes[point...])]
}

func oneByteChunks(_ bytes: [UInt8]) -> [[UInt8]] {
    bytes.map { [$0] }
}

/// A small, seedable generator, so that random tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomBytes(_ count: Int, using generator: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}
