import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct CloseCodeTests {
    @Test(arguments: [
        (0 as UInt16, false), (999, false),
        (1000, true), (1001, true), (1002, true), (1003, true),
        (1004, false), (1005, false), (1006, false),
        (1007, true), (1008, true), (1009, true), (1010, true), (1011, true),
        (1012, true), (1013, true), (1014, true),
        (1015, false), (1016, false), (2000, false), (2999, false),
        (3000, true), (3999, true), (4000, true), (4999, true),
        (5000, false), (65535, false),
    ])
    func validityOnTheWire(code: UInt16, isValid: Bool) {
        #expect(CloseCode(code).isValidOnWire == isValid)
    }

    @Test func namedCodesHaveTheirRegisteredValues() {
        let expected: [(CloseCode, UInt16)] = [
            (.normalClosure, 1000), (.goingAway, 1001), (.protocolError, 1002), (.unsupportedData, 1003),
            (.noStatusReceived, 1005), (.abnormalClosure, 1006), (.invalidPayload, 1007),
            (.policyViolation, 1008), (.messageTooBig, 1009), (.mandatoryExtension, 1010),
            (.internalError, 1011), (.serviceRestart, 1012), (.tryAgainLater, 1013), (.badGateway, 1014),
        ]
        for (code, value) in expected {
            #expect(code.rawValue == value)
        }
    }

    @Test(arguments: [
        (ProtocolError.reservedBitsSet, CloseCode.protocolError),
        (.unknownOpcode, .protocolError),
        (.fragmentedControlFrame, .protocolError),
        (.controlFrameTooLong, .protocolError),
        (.unexpectedContinuation, .protocolError),
        (.expectedContinuation, .protocolError),
        (.unmaskedFrameFromClient, .protocolError),
        (.maskedFrameFromServer, .protocolError),
        (.lengthTopBitSet, .protocolError),
        (.invalidCloseCode, .protocolError),
        (.closePayloadTooShort, .protocolError),
        (.invalidUTF8, .invalidPayload),
        (.invalidCloseReason, .invalidPayload),
        (.frameTooBig, .messageTooBig),
        (.messageTooBig, .messageTooBig),
    ])
    func protocolErrorsMapToCloseCodes(error: ProtocolError, code: CloseCode) {
        #expect(error.closeCode == code)
    }
}
