import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct FrameParserTests {
    // MARK: RFC 6455 §5.7 examples, as bit literals

    @Test func anUnmaskedTextFrameReachesAClient() {
        let run = parseFrames([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], role: .client)
        #expect(run.events == [.text("Hello")])
        #expect(run.outcome == .needMoreBytes)
    }

    @Test func aMaskedTextFrameReachesAServer() {
        let run = parseFrames([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], role: .server)
        #expect(run.events == [.text("Hello")])
        #expect(run.outcome == .needMoreBytes)
    }

    @Test func aFragmentedUnmaskedTextMessageIsAssembled() {
        let run = parseFrames([0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F], role: .client)
        #expect(run.events == [.text("Hello")])
    }

    /// A server unmasks a short whole text frame and learns in the same pass whether it is
    /// ASCII; everything else must still go through the UTF-8 check.
    @Test(arguments: [
        ([0x48, 0x69], true), (Array("héllo wörld, 16+".utf8), true), (Array("€ and 𝄞".utf8), true),
        ([0x48, 0xFF], false), ([0xC0, 0x80], false), ([0x80], false), ([0xE2, 0x82], false),
        (Array(repeating: 0x41, count: 40) + [0xED, 0xA0, 0x80], false),
    ] as [([UInt8], Bool)])
    func shortMaskedTextFramesAreCheckedAsUTF8(payload: [UInt8], valid: Bool) {
        let run = parseFrames(maskedFrame(0x1, payload), role: .server)
        if valid {
            #expect(run.events == [.message(.text, payload)])
        } else {
            #expect(run.events.isEmpty)
            #expect(run.outcome == .failed(.invalidUTF8))
        }
    }

    @Test func pingAndMaskedPong() {
        #expect(parseFrames([0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], role: .client).events == [.ping(Array("Hello".utf8))])
        let pong: [UInt8] = [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(parseFrames(pong, role: .server).events == [.pong(Array("Hello".utf8))])
    }

    @Test func sixteenAndSixtyFourBitLengths() {
        let payload256 = (0..<256).map { UInt8(truncatingIfNeeded: $0) }
        let run16 = parseFrames([0x82, 0x7E, 0x01, 0x00] + payload256, role: .client)
        #expect(run16.events == [.message(.binary, payload256)])
        let payload64k = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let run64 = parseFrames([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + payload64k, role: .client)
        #expect(run64.events == [.message(.binary, payload64k)])
    }

    @Test func nonMinimalLengthEncodingsAreAccepted() {
        let five = Array("abcde".utf8)
        #expect(parseFrames([0x81, 0x7E, 0x00, 0x05] + five, role: .client).events == [.text("abcde")])
        #expect(parseFrames([0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x05] + five, role: .client).events == [.text("abcde")])
        #expect(parseFrames([0x89, 0x7E, 0x00, 0x05] + five, role: .client).outcome == .failed(.controlFrameTooLong))
    }

    @Test func emptyFramesOfEveryKind() {
        for role in [Role.server, .client] {
            let bytes = wireFrame(.text, [], to: role) + wireFrame(.binary, [], to: role) + wireFrame(.ping, [], to: role)
                + wireFrame(.pong, [], to: role) + wireFrame(.text, [], fin: false, to: role) + wireFrame(.continuation, [], to: role)
                + wireFrame(.close, [], to: role)
            let run = parseFrames(bytes, role: role)
            #expect(run.events == [.text(""), .message(.binary, []), .ping([]), .pong([]), .text(""), .close(nil, [])])
            #expect(run.outcome == .needMoreBytes)
            #expect(run.bufferCapacity == 0)
        }
    }

    @Test func manyFramesInOneRead() {
        var bytes: [UInt8] = []
        var expected: [FrameEvent] = []
        for index in 0..<50 {
            bytes += wireFrame(.text, "message \(index)", to: .server)
            expected.append(.text("message \(index)"))
        }
        #expect(parseFrames(bytes, role: .server).events == expected)
    }

    // MARK: Zero copy and memory

    @Test func aWholeFrameIsDeliveredFromTheInputWithoutCopy() {
        var bytes = wireFrame(.binary, [1, 2, 3, 4, 5], to: .server) + wireFrame(.text, "hi", to: .server)
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        let (outcome, start, end) = bytes.withUnsafeMutableBytes { buffer in
            (parser.parse(buffer, rules: rules, into: &sink), UnsafeRawPointer(buffer.baseAddress!), UnsafeRawPointer(buffer.baseAddress! + buffer.count))
        }
        #expect(outcome == .needMoreBytes)
        #expect(sink.events == [.message(.binary, [1, 2, 3, 4, 5]), .text("hi")])
        for address in sink.messageAddresses {
            #expect(address.map { $0 >= start && $0 < end } == true)
        }
        #expect(parser.bufferCapacity == 0)
        #expect(!parser.isHoldingBytes)
    }

    @Test func aFrameSplitAcrossReadsIsHeldThenReleased() {
        let bytes = wireFrame(.binary, [UInt8](repeating: 9, count: 1000), to: .server)
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        var first = Array(bytes[..<500])
        #expect(first.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        #expect(parser.isHoldingBytes)
        #expect(parser.bufferCapacity > 0)
        var second = Array(bytes[500...])
        #expect(second.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        #expect(sink.events == [.message(.binary, [UInt8](repeating: 9, count: 1000))])
        #expect(!parser.isHoldingBytes)
        #expect(parser.bufferCapacity == 0)
    }

    @Test func aPartialHeaderIsHeldWithoutABuffer() {
        let bytes = wireFrame(.binary, [UInt8](repeating: 1, count: 70000), to: .server)
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        for cut in 1..<14 {
            var head = Array(bytes[..<cut])
            var copy = parser
            #expect(head.withUnsafeMutableBytes { copy.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
            #expect(copy.isHoldingBytes)
            #expect(copy.bufferCapacity == 0)
        }
        parser.releaseBuffers()
    }

    @Test func theParserStateIsSmall() {
        // 57 bytes today; what matters is that it stays within a cache line.
        #expect(MemoryLayout<FrameParser>.size <= 64)
        #expect(_isPOD(FrameParser.self))
        #expect(_isPOD(UTF8Validator.self))
        #expect(MemoryLayout<UTF8Validator>.size == 1)
    }

    // MARK: Stopping

    @Test func theSinkCanStopAfterAnyFrameAndParsingResumesWithTheRest() {
        let frames = [
            wireFrame(.text, "one", to: .server), wireFrame(.ping, "p", to: .server),
            wireFrame(.binary, [7, 8], to: .server), wireFrame(.close, [0x03, 0xE8], to: .server),
        ]
        let bytes = frames.flatMap { $0 }
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        sink.stopsAfterEveryEvent = true
        var remaining = bytes
        var consumedSizes: [Int] = []
        while !remaining.isEmpty {
            let before = remaining
            let outcome = remaining.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) }
            guard case .stopped(let consumed) = outcome else {
                Issue.record("expected a stop, got \(outcome)")
                return
            }
            // Bytes after the stop are untouched: still masked.
            #expect(Array(remaining[consumed...]) == Array(before[consumed...]))
            consumedSizes.append(consumed)
            remaining = Array(remaining[consumed...])
        }
        #expect(consumedSizes == frames.map(\.count))
        #expect(sink.events == [.text("one"), .ping(Array("p".utf8)), .message(.binary, [7, 8]), .close(.normalClosure, [])])
    }

    @Test func stoppingOnAMessageAssembledFromABufferReportsTheBytesConsumed() {
        let bytes = wireFrame(.text, "ab", fin: false, to: .client) + wireFrame(.continuation, "cd", to: .client) + wireFrame(.text, "e", to: .client)
        var parser = FrameParser()
        let rules = FrameRules(role: .client)
        var sink = RecordingSink()
        sink.stopsAfterEveryEvent = true
        var copy = bytes
        let outcome = copy.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) }
        #expect(outcome == .stopped(consumed: 8))
        #expect(sink.events == [.text("abcd")])
        #expect(parser.bufferCapacity == 0)
    }

    // MARK: Failure is final

    @Test func afterAFailureEveryCallFailsTheSameWay() {
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        var fragment = wireFrame(.binary, [UInt8](repeating: 0, count: 300), fin: false, to: .server)
        #expect(fragment.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        #expect(parser.bufferCapacity > 0)
        var bad: [UInt8] = [0xF2, 0x80]
        #expect(bad.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .failed(.reservedBitsSet))
        var good = wireFrame(.continuation, "fine", to: .server)
        #expect(good.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .failed(.reservedBitsSet))
        parser.releaseBuffers()
        #expect(good.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .failed(.reservedBitsSet))
        #expect(parser.bufferCapacity == 0)
        #expect(sink.events.isEmpty)
    }

    @Test func releaseBuffersFreesMemoryAndStartsOver() {
        var parser = FrameParser()
        let rules = FrameRules(role: .client)
        var sink = RecordingSink()
        var partial = Array(wireFrame(.text, "hello", fin: false, to: .client) + wireFrame(.continuation, "wor", to: .client)[..<3])
        #expect(partial.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        #expect(parser.isHoldingBytes)
        parser.releaseBuffers()
        #expect(!parser.isHoldingBytes)
        #expect(parser.bufferCapacity == 0)
        var fresh = wireFrame(.text, "new", to: .client)
        #expect(fresh.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        #expect(sink.events == [.text("new")])
    }

    @Test func anEmptyInputChangesNothing() {
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        #expect(parser.parse(UnsafeMutableRawBufferPointer(start: nil, count: 0), rules: rules, into: &sink) == .needMoreBytes)
        #expect(!parser.isHoldingBytes)
    }
}
