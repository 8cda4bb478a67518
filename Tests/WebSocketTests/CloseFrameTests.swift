import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct CloseFrameTests {
    @Test(arguments: [
        (0 as UInt16, false), (999, false), (1000, true), (1001, true), (1002, true), (1003, true),
        (1004, false), (1005, false), (1006, false), (1007, true), (1011, true), (1012, true),
        (1013, true), (1014, true), (1015, false), (1016, false), (2999, false), (3000, true),
        (4999, true), (5000, false), (65535, false),
    ])
    func codesAreCheckedOnReceipt(code: UInt16, isValid: Bool) {
        for role in [Role.server, .client] {
            let payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array("why".utf8)
            let run = parseFrames(wireFrame(.close, payload, to: role), role: role)
            if isValid {
                #expect(run.events == [.close(CloseCode(code), Array("why".utf8))])
                #expect(run.outcome == .needMoreBytes)
            } else {
                #expect(run.events.isEmpty)
                #expect(run.outcome == .failed(.invalidCloseCode))
            }
        }
    }

    @Test func anEmptyCloseHasNoCode() {
        #expect(parseFrames(wireFrame(.close, [], to: .server), role: .server).events == [.close(nil, [])])
    }

    @Test func aOneBytePayloadIsAProtocolError() {
        let run = parseFrames(wireFrame(.close, [0x03], to: .server), role: .server)
        #expect(run.outcome == .failed(.closePayloadTooShort))
        #expect(ProtocolError.closePayloadTooShort.closeCode == .protocolError)
    }

    @Test func anInvalidReasonIsAnInvalidPayload() {
        let run = parseFrames(wireFrame(.close, [0x03, 0xE8, 0x61, 0xC0], to: .client), role: .client)
        #expect(run.outcome == .failed(.invalidCloseReason))
        let truncated = parseFrames(wireFrame(.close, [0x03, 0xE8, 0xE2, 0x82], to: .client), role: .client)
        #expect(truncated.outcome == .failed(.invalidCloseReason))
    }

    @Test func aFullSizeCloseArrivingInPiecesIsDelivered() {
        let reason = Array(String(repeating: "é", count: 61).utf8) + [UInt8(ascii: "!")]
        let bytes = wireFrame(.close, [0x0F, 0xA0] + reason, to: .server)
        #expect(bytes.count == 2 + 4 + 125)
        for cut in 0...bytes.count {
            #expect(parseFrames(cutInTwo(bytes, at: cut), role: .server).events == [.close(CloseCode(4000), reason)])
        }
    }

    @Test func theSinkCanStopAtTheClose() {
        var parser = FrameParser()
        let rules = FrameRules(role: .server)
        var sink = RecordingSink()
        sink.stopsAfterClose = true
        let close = wireFrame(.close, [0x03, 0xE8], to: .server)
        var bytes = wireFrame(.text, "a", to: .server) + close + wireFrame(.text, "after close", to: .server)
        let outcome = bytes.withUnsafeMutableBytes { parser.parse($0, rules: rules, into: &sink) }
        #expect(outcome == .stopped(consumed: 7 + close.count))
        #expect(sink.events == [.text("a"), .close(.normalClosure, [])])
    }
}
