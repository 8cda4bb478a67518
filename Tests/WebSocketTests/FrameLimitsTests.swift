import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct FrameLimitsTests {
    @Test func theDefaultsAre16MiB() {
        #expect(FrameLimits().maxFrameSize == 16 * 1024 * 1024)
        #expect(FrameLimits().maxMessageSize == 16 * 1024 * 1024)
    }

    @Test(arguments: [Role.server, .client])
    func aFrameAtTheLimitPassesAndOneByteMoreFailsAtTheHeader(role: Role) {
        let limits = FrameLimits(maxFrameSize: 1000, maxMessageSize: 5000)
        let atLimit = wireFrame(.binary, [UInt8](repeating: 1, count: 1000), to: role)
        #expect(parseFrames(atLimit, role: role, limits: limits).events.count == 1)
        let over = wireFrame(.binary, [UInt8](repeating: 1, count: 1001), to: role)
        let headerOnly = Array(over[..<FrameEncoder.headerSize(payloadLength: 1001, masked: role == .server)])
        let run = parseFrames(headerOnly, role: role, limits: limits)
        #expect(run.outcome == .failed(.frameTooBig))
        #expect(run.bufferCapacity == 0)
    }

    @Test func theLengthIsCheckedBeforeTheMaskingKeyArrives() {
        // A 16-bit length over the limit fails with 4 bytes, before the key.
        let run = parseFrames([0x82, 0xFE, 0x10, 0x00], role: .server, limits: FrameLimits(maxFrameSize: 100))
        #expect(run.outcome == .failed(.frameTooBig))
    }

    @Test(arguments: [Role.server, .client])
    func theMessageLimitCountsEveryFragment(role: Role) {
        let limits = FrameLimits(maxFrameSize: 100, maxMessageSize: 250)
        let hundred = [UInt8](repeating: 2, count: 100)
        let fits = wireFrame(.binary, hundred, fin: false, to: role) + wireFrame(.continuation, hundred, fin: false, to: role)
            + wireFrame(.continuation, Array(hundred[..<50]), to: role)
        #expect(parseFrames(fits, role: role, limits: limits).events == [.message(.binary, [UInt8](repeating: 2, count: 250))])
        let tooMuch = wireFrame(.binary, hundred, fin: false, to: role) + wireFrame(.continuation, hundred, fin: false, to: role)
            + wireFrame(.continuation, Array(hundred[..<51]), to: role)
        let firstTwo = 2 * FrameEncoder.headerSize(payloadLength: 100, masked: role == .server) + 200
        // Fails at the third header, before its payload.
        #expect(parseFrames(Array(tooMuch[..<(firstTwo + 2)]), role: role, limits: limits).outcome == .failed(.messageTooBig))
    }

    @Test func aSingleFrameOverTheMessageLimitIsTooBig() {
        let limits = FrameLimits(maxFrameSize: 1000, maxMessageSize: 10)
        #expect(parseFrames(wireFrame(.text, "eleven char", to: .server), role: .server, limits: limits).outcome == .failed(.messageTooBig))
        #expect(parseFrames(wireFrame(.text, "ten chars.", to: .server), role: .server, limits: limits).events == [.text("ten chars.")])
    }

    @Test func controlFramesAreNotSubjectToTheLimits() {
        let limits = FrameLimits(maxFrameSize: 0, maxMessageSize: 0)
        let ping = wireFrame(.ping, [UInt8](repeating: 3, count: 125), to: .server)
        #expect(parseFrames(oneByteChunks(ping), role: .server, limits: limits).events == [.ping([UInt8](repeating: 3, count: 125))])
        #expect(parseFrames(wireFrame(.text, "", to: .server), role: .server, limits: limits).events == [.text("")])
        #expect(parseFrames(wireFrame(.text, "x", to: .server), role: .server, limits: limits).outcome == .failed(.frameTooBig))
    }

    @Test func theBufferNeverGrowsPastTheMessageLimitPlusAControlFrame() {
        let limits = FrameLimits(maxFrameSize: 300, maxMessageSize: 300)
        var parser = FrameParser()
        let rules = FrameRules(role: .server, limits: limits)
        var sink = RecordingSink()
        var bytes = wireFrame(.binary, [UInt8](repeating: 1, count: 300), fin: false, to: .server)
        let ping = wireFrame(.ping, [UInt8](repeating: 4, count: 125), to: .server)
        bytes += ping[..<20]
        #expect(bytes.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        var rest = Array(ping[20...])
        #expect(rest.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        #expect(parser.bufferCapacity <= 425)
        #expect(sink.events == [.ping([UInt8](repeating: 4, count: 125))])
        parser.releaseBuffers()
    }

    @Test func hugeAndNegativeLimitsAreClamped() {
        #expect(FrameLimits.clamped(-5) == 0)
        #expect(FrameLimits.clamped(Int.max) == UInt32(Int32.max))
        let run = parseFrames([0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0], role: .client, limits: FrameLimits(maxFrameSize: .max, maxMessageSize: .max))
        #expect(run.outcome == .failed(.frameTooBig))
    }
}
