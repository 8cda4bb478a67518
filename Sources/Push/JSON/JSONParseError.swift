/// Why a document is not JSON that the parser accepts, and where.
public struct JSONParseError: Error, Sendable, Equatable {
    /// The rule a document broke.
    public enum Reason: Sendable, Equatable {
        /// Longer than ``JSONLimits/maximumBytes``.
        case tooLarge
        /// Nested deeper than ``JSONLimits/maximumDepth``.
        case tooDeep
        /// The document ends inside a value, or is empty.
        case unexpectedEnd
        /// A byte that no value, separator or closing bracket may start with here; this
        /// includes a trailing comma.
        case unexpectedByte
        /// An object member that does not start with a string key.
        case expectedKey
        /// A key not followed by a colon.
        case expectedColon
        /// A second member with a key already in the object (keys are compared as Swift
        /// strings, so canonically equivalent spellings count as the same key).
        case duplicateKey
        /// A malformed number: a lone minus, a missing digit after `.` or in the exponent.
        case invalidNumber
        /// An integer part with a leading zero, such as `01`.
        case leadingZero
        /// A number too large for a `Double` (it would be infinite).
        case numberOutOfRange
        /// A backslash not followed by one of `"\/bfnrtu`, or `\u` not followed by four hex digits.
        case invalidEscape
        /// A `\u` escape of a lone surrogate: a high one not followed by an escaped low one,
        /// or a low one on its own.
        case invalidSurrogate
        /// An unescaped control character (U+0000 to U+001F) in a string.
        case controlCharacterInString
        /// A string whose bytes are not valid UTF-8.
        case invalidUTF8
        /// Something other than whitespace after the value.
        case trailingContent
    }

    /// The rule broken.
    public let reason: Reason
    /// The byte offset at which it was found.
    public let offset: Int

    /// An error for `reason` at byte `offset`.
    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }
}
