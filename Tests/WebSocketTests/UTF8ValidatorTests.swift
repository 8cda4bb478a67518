import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct UTF8ValidatorTests {
    /// The index of the first byte at which the validator gives up when fed
    /// one byte at a time, or nil if it never does.
    static func firstRejectedIndex(_ bytes: [UInt8]) -> Int? {
        var validator = UTF8Validator()
        for (index, byte) in bytes.enumerated() {
            let accepted = [byte].withUnsafeBytes { validator.validate($0) }
            if !accepted { return index }
        }
        return nil
    }

    static func validateAtOnce(_ bytes: [UInt8]) -> (accepted: Bool, complete: Bool) {
        var validator = UTF8Validator()
        let accepted = bytes.withUnsafeBytes { validator.validate($0) }
        return (accepted, validator.isComplete)
    }

    /// Reference, built on the standard library: `bytes` is a prefix of valid
    /// UTF-8 if some completion of up to 3 continuation bytes makes it valid.
    /// 0x80 satisfies every second-byte range except those of E0 and F0, 0xA0
    /// satisfies those, and both satisfy the later continuation bytes.
    static func isValidPrefix(_ bytes: [UInt8]) -> Bool {
        for length in 0...3 {
            for filler: UInt8 in [0x80, 0xA0] {
                if String(validating: bytes + [UInt8](repeating: filler, count: length), as: UTF8.self) != nil {
                    return true
                }
            }
        }
        return false
    }

    static func referenceFirstRejectedIndex(_ bytes: [UInt8]) -> Int? {
        (1...max(bytes.count, 1)).first { bytes.count >= $0 && !isValidPrefix(Array(bytes[..<$0])) }.map { $0 - 1 }
    }

    struct KnownSequence: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        /// Where a byte-at-a-time validator gives up, nil if it never does.
        var rejectedAt: Int?
        var isValid: Bool

        init(_ name: String, _ bytes: [UInt8], rejectedAt: Int?, isValid: Bool) {
            self.name = name
            self.bytes = bytes
            self.rejectedAt = rejectedAt
            self.isValid = isValid
        }

        var testDescription: String { name }
    }

    static let knownSequences: [KnownSequence] = [
        KnownSequence("ASCII", [0x48, 0x69], rejectedAt: nil, isValid: true),
        KnownSequence("empty", [], rejectedAt: nil, isValid: true),
        KnownSequence("2-byte é", [0xC3, 0xA9], rejectedAt: nil, isValid: true),
        KnownSequence("3-byte €", [0xE2, 0x82, 0xAC], rejectedAt: nil, isValid: true),
        KnownSequence("4-byte 😀", [0xF0, 0x9F, 0x98, 0x80], rejectedAt: nil, isValid: true),
        KnownSequence("U+10FFFF", [0xF4, 0x8F, 0xBF, 0xBF], rejectedAt: nil, isValid: true),
        KnownSequence("U+D7FF before the surrogates", [0xED, 0x9F, 0xBF], rejectedAt: nil, isValid: true),
        KnownSequence("U+E000 after the surrogates", [0xEE, 0x80, 0x80], rejectedAt: nil, isValid: true),
        KnownSequence("stray continuation", [0x41, 0x80], rejectedAt: 1, isValid: false),
        KnownSequence("lead C0", [0xC0, 0x80], rejectedAt: 0, isValid: false),
        KnownSequence("lead C1", [0xC1, 0xBF], rejectedAt: 0, isValid: false),
        KnownSequence("lead F5", [0xF5, 0x80, 0x80, 0x80], rejectedAt: 0, isValid: false),
        KnownSequence("lead FF", [0xFF], rejectedAt: 0, isValid: false),
        KnownSequence("overlong 3-byte", [0xE0, 0x9F, 0xBF], rejectedAt: 1, isValid: false),
        KnownSequence("overlong 4-byte", [0xF0, 0x8F, 0xBF, 0xBF], rejectedAt: 1, isValid: false),
        KnownSequence("surrogate D800", [0xED, 0xA0, 0x80], rejectedAt: 1, isValid: false),
        KnownSequence("surrogate DFFF", [0xED, 0xBF, 0xBF], rejectedAt: 1, isValid: false),
        KnownSequence("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80], rejectedAt: 1, isValid: false),
        KnownSequence("ASCII inside a sequence", [0xE2, 0x82, 0x41], rejectedAt: 2, isValid: false),
        KnownSequence("lead inside a sequence", [0xF0, 0x9F, 0xC3], rejectedAt: 2, isValid: false),
        KnownSequence("truncated 2-byte", [0xC3], rejectedAt: nil, isValid: false),
        KnownSequence("truncated 3-byte", [0xE2, 0x82], rejectedAt: nil, isValid: false),
        KnownSequence("truncated 4-byte", [0xF0, 0x9F, 0x98], rejectedAt: nil, isValid: false),
        KnownSequence("bad byte after a long ASCII run", Array("0123456789abcdefghij".utf8) + [0xFE], rejectedAt: 20, isValid: false),
    ]

    @Test(arguments: knownSequences)
    func knownSequence(_ sequence: KnownSequence) {
        #expect(Self.firstRejectedIndex(sequence.bytes) == sequence.rejectedAt)
        let atOnce = Self.validateAtOnce(sequence.bytes)
        #expect((atOnce.accepted && atOnce.complete) == sequence.isValid)
        #expect(atOnce.accepted == (sequence.rejectedAt == nil))
    }

    @Test func everyOneAndTwoByteSequenceAgreesWithTheStandardLibrary() {
        for first in 0...255 {
            let one = [UInt8(first)]
            #expect(Self.firstRejectedIndex(one) == Self.referenceFirstRejectedIndex(one))
            for second in 0...255 {
                let two = [UInt8(first), UInt8(second)]
                let atOnce = Self.validateAtOnce(two)
                #expect(atOnce.accepted == Self.isValidPrefix(two), "\(two)")
                #expect((atOnce.accepted && atOnce.complete) == (String(validating: two, as: UTF8.self) != nil))
            }
        }
    }

    @Test func everyThreeByteSequenceFromAMultiByteLeadAgreesWithTheStandardLibrary() {
        for first in 0xE0...0xF4 {
            for second in stride(from: 0x70, through: 0xC4, by: 1) {
                for third in [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xF0, 0xFF] {
                    let bytes = [UInt8(first), UInt8(second), UInt8(third)]
                    #expect(Self.validateAtOnce(bytes).accepted == Self.isValidPrefix(bytes), "\(bytes)")
                }
            }
        }
    }

    @Test func randomInputsAgreeWithTheStandardLibrary() {
        var generator = SplitMix64(seed: 42)
        // Weighted towards bytes that make up multi-byte sequences.
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for _ in 0..<3000 {
            let length = Int.random(in: 0...24, using: &generator)
            let bytes = (0..<length).map { _ in
                Bool.random(using: &generator)
                    ? interesting.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            }
            let atOnce = Self.validateAtOnce(bytes)
            #expect((atOnce.accepted && atOnce.complete) == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
            #expect(Self.firstRejectedIndex(bytes) == Self.referenceFirstRejectedIndex(bytes), "\(bytes)")
        }
    }

    @Test func randomValidTextIsAcceptedAtEverySplitPoint() {
        var generator = SplitMix64(seed: 7)
        let samples = ["a", "é", "€", "😀", "\u{10FFFF}", "\u{D7FF}", "\u{E000}", "\u{80}", "\u{7FF}", "\u{800}", "\u{FFFF}", "\u{10000}"]
        for _ in 0..<200 {
            let text = (0..<Int.random(in: 1...12, using: &generator)).map { _ in samples.randomElement(using: &generator)! }.joined()
            let bytes = Array(text.utf8)
            for point in 0...bytes.count {
                var validator = UTF8Validator()
                let first = Array(bytes[..<point]).withUnsafeBytes { validator.validate($0) }
                let second = Array(bytes[point...]).withUnsafeBytes { validator.validate($0) }
                #expect(first && second && validator.isComplete)
            }
        }
    }

    @Test func longASCIIWithOneBadByteAtEveryPositionFails() {
        for length in [1, 7, 8, 9, 15, 16, 17, 64, 100] {
            for position in 0..<length {
                var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: length)
                bytes[position] = 0x80
                #expect(Self.validateAtOnce(bytes).accepted == false)
                #expect(Self.firstRejectedIndex(bytes) == position)
            }
        }
    }

    @Test func aRejectionIsFinalAndResetStartsOver() {
        var validator = UTF8Validator()
        #expect([0xFF as UInt8].withUnsafeBytes { validator.validate($0) } == false)
        #expect(Array("ok".utf8).withUnsafeBytes { validator.validate($0) } == false)
        #expect(validator.validate(UnsafeRawBufferPointer(start: nil, count: 0)) == false)
        #expect(!validator.isComplete)
        validator.reset()
        #expect(Array("ok".utf8).withUnsafeBytes { validator.validate($0) })
        #expect(validator.isComplete)
    }

    @Test func aSequenceSplitAcrossCallsIsIncompleteInBetween() {
        var validator = UTF8Validator()
        #expect([0xF0 as UInt8, 0x9F].withUnsafeBytes { validator.validate($0) })
        #expect(!validator.isComplete)
        #expect([0x98 as UInt8].withUnsafeBytes { validator.validate($0) })
        #expect(!validator.isComplete)
        #expect([0x80 as UInt8].withUnsafeBytes { validator.validate($0) })
        #expect(validator.isComplete)
    }
}
