import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct FrameEncoderTests {
    static func header(_ opcode: Opcode, fin: Bool = true, length: Int, maskKey: UInt32? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xEE, count: FrameEncoder.maxHeaderSize)
        let written = bytes.withUnsafeMutableBytes {
            FrameEncoder.writeHeader(into: $0.baseAddress!, opcode: opcode, fin: fin, payloadLength: length, maskKey: maskKey)
        }
        #expect(written == FrameEncoder.headerSize(payloadLength: length, masked: maskKey != nil))
        return Array(bytes[..<written])
    }

    @Test(arguments: [
        (0, 2), (1, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (Int(UInt32.max) + 1, 10),
    ])
    func headerSizes(length: Int, unmaskedSize: Int) {
        #expect(FrameEncoder.headerSize(payloadLength: length, masked: false) == unmaskedSize)
        #expect(FrameEncoder.headerSize(payloadLength: length, masked: true) == unmaskedSize + 4)
    }

    @Test func headersAsBitLiterals() {
        #expect(Self.header(.text, length: 5) == [0x81, 0x05])
        #expect(Self.header(.text, fin: false, length: 3) == [0x01, 0x03])
        #expect(Self.header(.continuation, length: 2) == [0x80, 0x02])
        #expect(Self.header(.binary, length: 125) == [0x82, 0x7D])
        #expect(Self.header(.binary, length: 126) == [0x82, 0x7E, 0x00, 0x7E])
        #expect(Self.header(.binary, length: 256) == [0x82, 0x7E, 0x01, 0x00])
        #expect(Self.header(.binary, length: 65535) == [0x82, 0x7E, 0xFF, 0xFF])
        #expect(Self.header(.binary, length: 65536) == [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])
        #expect(Self.header(.close, length: 0) == [0x88, 0x00])
        #expect(Self.header(.ping, length: 0, maskKey: 0x3D21_FA37) == [0x89, 0x80, 0x37, 0xFA, 0x21, 0x3D])
        #expect(Self.header(.pong, length: 65536, maskKey: 0x0403_0201) == [0x8A, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4])
    }

    @Test func theRFCMaskedHelloIsReproduced() {
        let bytes = encodeFrame(.text, Array("Hello".utf8), maskKey: 0x3D21_FA37)
        #expect(bytes == [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    }

    @Test(arguments: [Role.server, .client])
    func encodedFramesParseBackToTheSamePayload(role: Role) {
        var generator = SplitMix64(seed: 11)
        for length in [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 125, 126, 127, 1000, 65535, 65536, 70001] {
            let payload = randomBytes(length, using: &generator)
            let key = UInt32.random(in: 0...UInt32.max, using: &generator)
            let bytes = wireFrame(.binary, payload, to: role, maskKey: key)
            #expect(parseFrames(bytes, role: role).events == [.message(.binary, payload)], "length \(length)")
        }
    }

    @Test func closePayloadsCarryTheCodeBigEndian() {
        #expect(closePayload(code: .normalClosure, reason: "") == [0x03, 0xE8])
        #expect(closePayload(code: CloseCode(4321), reason: "bye") == [0x10, 0xE1] + Array("bye".utf8))
    }

    @Test func longReasonsAreCutOnACharacterBoundary() {
        for (reason, expectedLength) in [
            (String(repeating: "a", count: 200), 123),
            (String(repeating: "é", count: 100), 122),  // 2-byte characters: 61 fit
            (String(repeating: "€", count: 50), 123),  // 3-byte characters: 41 fit exactly
            ("a" + String(repeating: "€", count: 50), 121),
            (String(repeating: "😀", count: 40), 120),
            (String(repeating: "b", count: 123), 123),
        ] {
            let payload = closePayload(code: .goingAway, reason: reason)
            #expect(payload.count == 2 + expectedLength)
            let cutReason = Array(payload[2...])
            #expect(String(validating: cutReason, as: UTF8.self) != nil)
            #expect(Array(reason.utf8).starts(with: cutReason))
            // The payload is a valid close frame for the parser.
            #expect(parseFrames(wireFrame(.close, payload, to: .client), role: .client).events == [.close(.goingAway, cutReason)])
        }
    }

    @Test func closePayloadWritesIntoTheGivenMemory() {
        var bytes = [UInt8](repeating: 0, count: 2 + ClosePayload.maxReasonLength)
        let written = bytes.withUnsafeMutableBytes {
            ClosePayload.write(into: $0.baseAddress!, code: .policyViolation, reason: "no")
        }
        #expect(Array(bytes[..<written]) == [0x03, 0xF0, 0x6E, 0x6F])
    }
}

/// A close payload as an array.
private func closePayload(code: CloseCode, reason: String) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 2 + ClosePayload.maxReasonLength)
    let written = bytes.withUnsafeMutableBytes { ClosePayload.write(into: $0.baseAddress!, code: code, reason: reason) }
    return Array(bytes[..<written])
}
