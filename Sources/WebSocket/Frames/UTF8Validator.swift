/// Incremental UTF-8 validation, for text messages that arrive in pieces.
///
/// Fails on the first byte that cannot continue valid UTF-8 (RFC 3629,
/// Unicode Table 3-7): stray continuation bytes, the lead bytes C0, C1 and
/// F5–FF, overlong forms (`E0 80…9F`, `F0 80…8F`), surrogates (`ED A0…BF`)
/// and code points above U+10FFFF (`F4 90…BF`). One byte of state.
@_spi(Internals)
public struct UTF8Validator {
    public init() {}

    /// What the next byte must be. The four `after…` cases constrain the
    /// second byte of the lead bytes whose range is narrower than 80–BF.
    private enum Expectation: UInt8 {
        case sequenceStart
        case oneContinuation
        case twoContinuations
        case threeContinuations
        /// After E0: A0–BF, else the sequence would be overlong.
        case afterE0
        /// After ED: 80–9F, else it would encode a surrogate.
        case afterED
        /// After F0: 90–BF, else the sequence would be overlong.
        case afterF0
        /// After F4: 80–8F, else it would exceed U+10FFFF.
        case afterF4
        /// A byte was rejected; nothing can follow.
        case invalid
    }

    private var expectation = Expectation.sequenceStart

    /// True when the bytes seen so far end on a character boundary (and were valid).
    public var isComplete: Bool { expectation == .sequenceStart }

    /// Forgets everything seen, to validate a new message.
    public mutating func reset() {
        expectation = .sequenceStart
    }

    /// Adds `bytes` to the text seen so far. Returns false as soon as the
    /// text can no longer be a prefix of valid UTF-8; once false, it stays false.
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return expectation != .invalid }
        let count = bytes.count
        var index = 0
        while index < count {
            if expectation == .sequenceStart {
                index = Self.skipASCII(base, from: index, count: count)
                if index == count { break }
            }
            expectation = Self.nextExpectation(after: base.load(fromByteOffset: index, as: UInt8.self), in: expectation)
            if expectation == .invalid { return false }
            index &+= 1
        }
        return expectation != .invalid
    }

    /// The index of the first non-ASCII byte at or after `index`, or `count`.
    /// Checks 8 bytes at a time: ASCII bytes all have the high bit clear.
    @inline(__always)
    private static func skipASCII(_ base: UnsafeRawPointer, from start: Int, count: Int) -> Int {
        var index = start
        while index &+ 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if word & 0x8080_8080_8080_8080 != 0 { break }
            index &+= 8
        }
        while index < count, base.load(fromByteOffset: index, as: UInt8.self) < 0x80 {
            index &+= 1
        }
        return index
    }

    @inline(__always)
    private static func nextExpectation(after byte: UInt8, in expectation: Expectation) -> Expectation {
        switch expectation {
        case .sequenceStart:
            return expectationAfterLead(byte)
        case .oneContinuation:
            return isContinuation(byte) ? .sequenceStart : .invalid
        case .twoContinuations:
            return isContinuation(byte) ? .oneContinuation : .invalid
        case .threeContinuations:
            return isContinuation(byte) ? .twoContinuations : .invalid
        case .afterE0:
            return (0xA0...0xBF).contains(byte) ? .oneContinuation : .invalid
        case .afterED:
            return (0x80...0x9F).contains(byte) ? .oneContinuation : .invalid
        case .afterF0:
            return (0x90...0xBF).contains(byte) ? .twoContinuations : .invalid
        case .afterF4:
            return (0x80...0x8F).contains(byte) ? .twoContinuations : .invalid
        case .invalid:
            return .invalid
        }
    }

    @inline(__always)
    private static func expectationAfterLead(_ byte: UInt8) -> Expectation {
        switch byte {
        case 0x00...0x7F: .sequenceStart
        case 0xC2...0xDF: .oneContinuation
        case 0xE0: .afterE0
        case 0xED: .afterED
        case 0xE1...0xEC, 0xEE...0xEF: .twoContinuations
        case 0xF0: .afterF0
        case 0xF1...0xF3: .threeContinuations
        case 0xF4: .afterF4
        default: .invalid  // 80–BF (stray continuation), C0, C1, F5–FF
        }
    }

    @inline(__always)
    private static func isContinuation(_ byte: UInt8) -> Bool {
        byte & 0xC0 == 0x80
    }
}
