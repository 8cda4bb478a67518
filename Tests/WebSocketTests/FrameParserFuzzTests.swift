import Testing

@_spi(Internals) @testable import WebSocket

/// Random input: the parser must never crash, and must either fail with a
/// protocol error or consume everything.
@Suite struct FrameParserFuzzTests {
    /// Cuts `bytes` into chunks of random sizes, sometimes empty.
    static func randomChunks(_ bytes: [UInt8], using generator: inout SplitMix64) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            let size = Bool.random(using: &generator) ? Int.random(in: 0...3, using: &generator) : Int.random(in: 0...200, using: &generator)
            let end = min(start + size, bytes.count)
            chunks.append(Array(bytes[start..<end]))
            start = end
        }
        return chunks
    }

    static func checkSurvives(_ chunks: [[UInt8]], role: Role, limits: FrameLimits) {
        var parser = FrameParser()
        let rules = FrameRules(role: role, limits: limits)
        var sink = RecordingSink()
        for chunk in chunks {
            var bytes = chunk
            let outcome = bytes.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) }
            switch outcome {
            case .needMoreBytes:
                continue
            case .failed:
                #expect(parser.bufferCapacity == 0)
                return
            case .stopped:
                Issue.record("the recording sink never stops")
                return
            }
        }
        #expect(parser.bufferCapacity <= limits.maxMessageSize + 125)
        parser.releaseBuffers()
        #expect(parser.bufferCapacity == 0)
    }

    @Test(arguments: [Role.server, .client])
    func randomBytesNeverCrashTheParser(role: Role) {
        var generator = SplitMix64(seed: role == .server ? 100 : 200)
        let limits = FrameLimits(maxFrameSize: 4096, maxMessageSize: 8192)
        for _ in 0..<3000 {
            let bytes = randomBytes(Int.random(in: 0...400, using: &generator), using: &generator)
            Self.checkSurvives(Self.randomChunks(bytes, using: &generator), role: role, limits: limits)
        }
    }

    @Test(arguments: [Role.server, .client])
    func mutatedValidStreamsNeverCrashTheParser(role: Role) {
        var generator = SplitMix64(seed: role == .server ? 300 : 400)
        let limits = FrameLimits(maxFrameSize: 4096, maxMessageSize: 8192)
        for _ in 0..<2000 {
            var bytes = Self.randomValidStream(role: role, using: &generator).bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            Self.checkSurvives(Self.randomChunks(bytes, using: &generator), role: role, limits: limits)
        }
    }

    /// Random valid traffic, randomly cut: the parser must deliver exactly
    /// what was sent, and hold nothing afterwards.
    @Test(arguments: [Role.server, .client])
    func randomValidStreamsAreDeliveredExactly(role: Role) {
        var generator = SplitMix64(seed: role == .server ? 500 : 600)
        for _ in 0..<400 {
            let stream = Self.randomValidStream(role: role, using: &generator)
            let run = parseFrames(Self.randomChunks(stream.bytes, using: &generator), role: role)
            #expect(run.events == stream.events)
            #expect(run.outcome == .needMoreBytes)
            #expect(!run.isHoldingBytes)
            #expect(run.bufferCapacity == 0)
        }
    }

    /// A few messages, some fragmented with control frames in between.
    static func randomValidStream(role: Role, using generator: inout SplitMix64) -> (bytes: [UInt8], events: [FrameEvent]) {
        var bytes: [UInt8] = []
        var events: [FrameEvent] = []
        let characters = ["a", "Z", " ", "é", "€", "😀", "\u{10FFFF}", "\u{0}"]
        for _ in 0..<Int.random(in: 1...5, using: &generator) {
            let isText = Bool.random(using: &generator)
            let length = [0, 1, 5, 125, 126, 300, 2000].randomElement(using: &generator)!
            let payload = isText
                ? Array((0..<length).map { _ in characters.randomElement(using: &generator)! }.joined().utf8)
                : randomBytes(length, using: &generator)
            let fragmentCount = Int.random(in: 1...4, using: &generator)
            var cuts = (0..<fragmentCount - 1).map { _ in Int.random(in: 0...payload.count, using: &generator) }.sorted()
            cuts = [0] + cuts + [payload.count]
            for index in 0..<fragmentCount {
                let opcode: Opcode = index == 0 ? (isText ? .text : .binary) : .continuation
                let piece = Array(payload[cuts[index]..<cuts[index + 1]])
                let key = UInt32.random(in: 0...UInt32.max, using: &generator)
                bytes += wireFrame(opcode, piece, fin: index == fragmentCount - 1, to: role, maskKey: key)
                if index < fragmentCount - 1 && Bool.random(using: &generator) {
                    let control = randomBytes(Int.random(in: 0...125, using: &generator), using: &generator)
                    let isPing = Bool.random(using: &generator)
                    bytes += wireFrame(isPing ? .ping : .pong, control, to: role, maskKey: key &+ 1)
                    events.append(isPing ? .ping(control) : .pong(control))
                }
            }
            events.append(.message(isText ? .text : .binary, payload))
        }
        return (bytes, events)
    }
}
