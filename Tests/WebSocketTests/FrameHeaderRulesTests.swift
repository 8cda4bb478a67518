import Testing

@_spi(Internals) @testable import WebSocket

/// Every rule a frame header can break, written as bit literals, checked both
/// with the whole frame and with only the bytes the rule needs.
@Suite struct FrameHeaderRulesTests {
    struct Violation: CustomTestStringConvertible, Sendable {
        var name: String
        var role: Role
        /// Frames that are fine, sent first to set the stage.
        var prelude: [UInt8]
        /// The offending frame.
        var bytes: [UInt8]
        /// How many bytes of the offending frame suffice to detect the error.
        var detectedAfter: Int
        var error: ProtocolError

        var testDescription: String { name }
    }

    static let maskKey: [UInt8] = [0x11, 0x22, 0x33, 0x44]

    static let violations: [Violation] = [
        Violation(name: "RSV1", role: .client, prelude: [], bytes: [0xC1, 0x00], detectedAfter: 2, error: .reservedBitsSet),
        Violation(name: "RSV2", role: .client, prelude: [], bytes: [0xA1, 0x00], detectedAfter: 2, error: .reservedBitsSet),
        Violation(name: "RSV3", role: .server, prelude: [], bytes: [0x91, 0x80] + maskKey, detectedAfter: 2, error: .reservedBitsSet),
        Violation(name: "RSV on a control frame", role: .client, prelude: [], bytes: [0xC9, 0x00], detectedAfter: 2, error: .reservedBitsSet),
        Violation(name: "fragmented ping", role: .client, prelude: [], bytes: [0x09, 0x00], detectedAfter: 2, error: .fragmentedControlFrame),
        Violation(name: "fragmented close", role: .server, prelude: [], bytes: [0x08, 0x80] + maskKey, detectedAfter: 2, error: .fragmentedControlFrame),
        Violation(name: "ping of 126 bytes", role: .client, prelude: [], bytes: [0x89, 0x7E, 0x00, 0x7E], detectedAfter: 2, error: .controlFrameTooLong),
        Violation(name: "pong with a 64-bit length", role: .client, prelude: [], bytes: [0x8A, 0x7F], detectedAfter: 2, error: .controlFrameTooLong),
        Violation(name: "continuation first", role: .client, prelude: [], bytes: [0x80, 0x00], detectedAfter: 2, error: .unexpectedContinuation),
        Violation(name: "continuation after a finished message", role: .client, prelude: [0x81, 0x01, 0x61], bytes: [0x00, 0x00], detectedAfter: 2, error: .unexpectedContinuation),
        Violation(name: "text during a fragmented message", role: .client, prelude: [0x01, 0x01, 0x61], bytes: [0x81, 0x00], detectedAfter: 2, error: .expectedContinuation),
        Violation(name: "binary during a fragmented message", role: .client, prelude: [0x02, 0x01, 0x61], bytes: [0x82, 0x00], detectedAfter: 2, error: .expectedContinuation),
        Violation(name: "unmasked frame to a server", role: .server, prelude: [], bytes: [0x81, 0x01, 0x61], detectedAfter: 2, error: .unmaskedFrameFromClient),
        Violation(name: "unmasked ping to a server", role: .server, prelude: [], bytes: [0x89, 0x00], detectedAfter: 2, error: .unmaskedFrameFromClient),
        Violation(name: "masked frame to a client", role: .client, prelude: [], bytes: [0x81, 0x81] + maskKey + [0x61], detectedAfter: 2, error: .maskedFrameFromServer),
        Violation(name: "64-bit length with the top bit set", role: .client, prelude: [], bytes: [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0], detectedAfter: 10, error: .lengthTopBitSet),
        Violation(name: "64-bit length of all ones", role: .server, prelude: [], bytes: [0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + maskKey, detectedAfter: 10, error: .lengthTopBitSet),
    ] + unknownOpcodes

    static let unknownOpcodes: [Violation] = [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF].map { (opcode: UInt8) in
        Violation(name: "opcode \(opcode)", role: .client, prelude: [], bytes: [0x80 | opcode, 0x00], detectedAfter: 2, error: .unknownOpcode)
    }

    @Test(arguments: violations)
    func aWholeFrameFails(_ violation: Violation) {
        let run = parseFrames(violation.prelude + violation.bytes, role: violation.role)
        #expect(run.outcome == .failed(violation.error))
        #expect(run.bufferCapacity == 0)
    }

    @Test(arguments: violations)
    func theErrorIsFoundAsSoonAsTheBytesThatShowItArrive(_ violation: Violation) {
        let needed = Array(violation.bytes[..<violation.detectedAfter])
        #expect(parseFrames(violation.prelude + needed, role: violation.role).outcome == .failed(violation.error))
        let fewer = Array(needed.dropLast())
        #expect(parseFrames(violation.prelude + fewer, role: violation.role).outcome == .needMoreBytes)
        #expect(parseFrames(oneByteChunks(violation.prelude + needed), role: violation.role).outcome == .failed(violation.error))
    }

    @Test func theLargestLegal64BitLengthIsRejectedByTheLimitNotTrusted() {
        let bytes: [UInt8] = [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(parseFrames(bytes, role: .client).outcome == .failed(.frameTooBig))
    }

    @Test func masksArePerFrame() {
        let bytes = encodeFrame(.text, Array("first".utf8), maskKey: 0x0102_0304) + encodeFrame(.text, Array("second".utf8), maskKey: 0xF0E0_D0C0)
            + encodeFrame(.text, Array("zero key".utf8), maskKey: 0)
        #expect(parseFrames(bytes, role: .server).events == [.text("first"), .text("second"), .text("zero key")])
    }
}
