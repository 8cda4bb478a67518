import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct FragmentationTests {
    @Test(arguments: [Role.server, .client])
    func controlFramesBetweenFragmentsArriveFirst(role: Role) {
        let bytes = wireFrame(.binary, [1], fin: false, to: role) + wireFrame(.ping, "a", to: role) + wireFrame(.pong, "b", to: role)
            + wireFrame(.continuation, [2], fin: false, to: role) + wireFrame(.close, [0x03, 0xE8], to: role)
            + wireFrame(.continuation, [3], to: role)
        let run = parseFrames(bytes, role: role)
        #expect(run.events == [.ping(Array("a".utf8)), .pong(Array("b".utf8)), .close(.normalClosure, []), .message(.binary, [1, 2, 3])])
    }

    @Test func aControlFrameSplitInsideAFragmentedMessageLeavesTheMessageIntact() {
        let message = wireFrame(.text, "first part ", fin: false, to: .server)
        let ping = wireFrame(.ping, [UInt8](repeating: 0x70, count: 100), to: .server)
        let rest = wireFrame(.continuation, "second part", to: .server)
        for cut in 1..<ping.count {
            let chunks = [message + ping[..<cut], Array(ping[cut...]) + rest]
            let run = parseFrames(chunks, role: .server)
            #expect(run.events == [.ping([UInt8](repeating: 0x70, count: 100)), .text("first part second part")], "cut at \(cut)")
        }
    }

    @Test func invalidUTF8FailsAtTheFragmentThatHoldsIt() {
        var parser = FrameParser()
        let rules = FrameRules(role: .client)
        var sink = RecordingSink()
        var first = wireFrame(.text, "fine so far", fin: false, to: .client)
        #expect(first.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        // The bad byte is in a middle fragment: the message is never finished.
        var second = wireFrame(.continuation, [0x20, 0xC0, 0x80], fin: false, to: .client)
        #expect(second.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .failed(.invalidUTF8))
        #expect(sink.events.isEmpty)
        #expect(parser.bufferCapacity == 0)
    }

    @Test func invalidUTF8FailsBeforeTheRestOfAFrameArrives() {
        // A 1000-byte text frame whose 10th byte is impossible: the first read fails.
        var payload = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        payload[9] = 0xFF
        let bytes = wireFrame(.text, payload, to: .server)
        let run = parseFrames([Array(bytes[..<30]), Array(bytes[30...])], role: .server)
        #expect(run.outcome == .failed(.invalidUTF8))
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        var firstRead = Array(bytes[..<30])
        #expect(firstRead.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .failed(.invalidUTF8))
    }

    @Test(arguments: [Role.server, .client])
    func aTruncatedSequenceAtEveryFragmentBoundaryIsAccepted(role: Role) {
        let text = Array("a€😀é\u{10FFFF}z".utf8)
        for first in 1..<text.count {
            for second in first..<text.count {
                let bytes = wireFrame(.text, Array(text[..<first]), fin: false, to: role)
                    + wireFrame(.continuation, Array(text[first..<second]), fin: false, to: role)
                    + wireFrame(.continuation, Array(text[second...]), to: role)
                #expect(parseFrames(bytes, role: role).events == [.message(.text, text)], "cuts at \(first), \(second)")
            }
        }
    }

    @Test(arguments: [Role.server, .client])
    func aMessageEndingMidCharacterFails(role: Role) {
        let bytes = wireFrame(.text, [0x61, 0xF0, 0x9F], fin: false, to: role) + wireFrame(.continuation, [0x98], to: role)
        #expect(parseFrames(bytes, role: role).outcome == .failed(.invalidUTF8))
    }

    @Test func binaryMessagesAreNotValidated() {
        let bytes = wireFrame(.binary, [0xFF, 0xC0], fin: false, to: .server) + wireFrame(.continuation, [0xED, 0xA0, 0x80], to: .server)
        #expect(parseFrames(bytes, role: .server).events == [.message(.binary, [0xFF, 0xC0, 0xED, 0xA0, 0x80])])
    }

    @Test func aTextMessageAfterABinaryOneIsValidatedFromScratch() {
        let bytes = wireFrame(.binary, [0xF0], fin: false, to: .client) + wireFrame(.continuation, [], to: .client)
            + wireFrame(.text, [0x80], to: .client)
        let run = parseFrames(bytes, role: .client)
        #expect(run.events == [.message(.binary, [0xF0])])
        #expect(run.outcome == .failed(.invalidUTF8))
    }

    @Test func theBufferIsFreedAfterEveryAssembledMessage() {
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        for round in 0..<5 {
            var bytes = wireFrame(.text, "round \(round) ", fin: false, to: .server) + wireFrame(.continuation, "done", to: .server)
            #expect(bytes.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
            #expect(parser.bufferCapacity == 0)
            #expect(!parser.isHoldingBytes)
        }
        #expect(sink.events.count == 5)
    }

    @Test func aFragmentedMessageInFlightIsHeld() {
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        var bytes = wireFrame(.text, "", fin: false, to: .server)
        #expect(bytes.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) } == .needMoreBytes)
        #expect(parser.isHoldingBytes)
        #expect(parser.bufferCapacity == 0)
    }
}
