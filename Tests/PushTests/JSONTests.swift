import Testing

@testable import Push

@Suite struct JSONTests {
    static func parse(_ text: String, limits: JSONLimits = .default) -> Result<JSON, JSONParseError> {
        Result { () throws(JSONParseError) in try JSON(parsing: Array(text.utf8), limits: limits) }
    }

    static func reason(_ text: String, limits: JSONLimits = .default) -> JSONParseError.Reason? {
        if case .failure(let error) = parse(text, limits: limits) { return error.reason }
        return nil
    }

    static func value(_ text: String) -> JSON? {
        try? parse(text).get()
    }

    @Test func valuesOfEveryKind() {
        #expect(Self.value(#" {"a": [1, -2.5, true, false, null, "x"], "b": {}} "#)
            == .object([("a", .array([.int(1), .double(-2.5), .bool(true), .bool(false), .null, .string("x")])), ("b", .object([]))]))
        #expect(Self.value("[]") == .array([]))
        #expect(Self.value("\"\"") == .string(""))
        #expect(Self.value("0") == .int(0))
    }

    @Test func trailingCommasAreRejected() {
        #expect(Self.reason("[1,]") == .unexpectedByte)
        #expect(Self.reason(#"{"a":1,}"#) == .expectedKey)
        #expect(Self.reason("[,1]") == .unexpectedByte)
        #expect(Self.reason("[1 2]") == .unexpectedByte)
    }

    @Test(arguments: [
        ("01", JSONParseError.Reason.leadingZero), ("-01", .leadingZero), ("00", .leadingZero),
        ("-", .unexpectedEnd), ("-a", .invalidNumber), ("1.", .unexpectedEnd), ("1.e3", .invalidNumber),
        ("1e", .unexpectedEnd), ("1e+", .unexpectedEnd), (".5", .unexpectedByte), ("+1", .unexpectedByte),
        ("0x10", .trailingContent), ("1e400", .numberOutOfRange), ("-1e400", .numberOutOfRange),
        ("NaN", .unexpectedByte), ("Infinity", .unexpectedByte),
    ])
    func malformedNumbers(text: String, reason: JSONParseError.Reason) {
        #expect(Self.reason(text) == reason, "\(text)")
    }

    @Test func integersWithin64BitsAreExact() {
        #expect(Self.value("9223372036854775807") == .int(Int.max))
        #expect(Self.value("-9223372036854775808") == .int(Int.min))
        #expect(Self.value("-0") == .int(0))
        #expect(Self.value("9223372036854775808") == .double(9223372036854775808))
        #expect(Self.value("-9223372036854775809") == .double(-0x1p63))
        #expect(Self.value("1e2") == .double(100))
        #expect(Self.value("1.0") == .double(1))
        #expect(Self.value("1E-2") == .double(0.01))
        #expect(Self.value("1e-400") == .double(0))
    }

    @Test func escapes() {
        #expect(Self.value(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(Self.value(#""a\u00e9b\u20AC""#) == .string("aéb€"))
        #expect(Self.value(#""\ud83d\ude00""#) == .string("😀"))
        #expect(Self.value(#""\u0000""#) == .string("\u{0}"))
        #expect(Self.reason(#""\x""#) == .invalidEscape)
        #expect(Self.reason(#""\u12""#) == .invalidEscape)
        #expect(Self.reason(#""\u12g4""#) == .invalidEscape)
        #expect(Self.reason(#""\'""#) == .invalidEscape)
    }

    @Test func loneSurrogatesAreRejected() {
        #expect(Self.reason(#""\ud83d""#) == .invalidSurrogate)
        #expect(Self.reason(#""\ud83dx""#) == .invalidSurrogate)
        #expect(Self.reason(#""\ud83d\u0041""#) == .invalidSurrogate)
        #expect(Self.reason(#""\ud83d\ud83d""#) == .invalidSurrogate)
        #expect(Self.reason(#""\ude00""#) == .invalidSurrogate)
        #expect(Self.reason(#""\ude00\ud83d""#) == .invalidSurrogate)
    }

    @Test func controlCharactersInStringsAreRejected() {
        for byte in UInt8(0)..<0x20 {
            let bytes = [UInt8(ascii: "\""), UInt8(ascii: "a"), byte, UInt8(ascii: "\"")]
            #expect(throws: JSONParseError(.controlCharacterInString, at: 2)) { try JSON(parsing: bytes) }
        }
        #expect(Self.reason("\"\\n\t\"") == .controlCharacterInString)
        #expect(Self.value("\"\u{7F}\"") == .string("\u{7F}"))
    }

    @Test func invalidUTF8IsRejected() {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xC0, 0xAF, 0x22],  // invalid, truncated, overlong
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // an encoded surrogate
            [0x22, 0x5C, 0x6E, 0xFF, 0x22],  // after an escape
        ]
        for bytes in cases {
            #expect(throws: JSONParseError(.invalidUTF8, at: 1)) { try JSON(parsing: bytes) }
        }
        #expect(Self.value("\"é😀\"") == .string("é😀"))
    }

    @Test func duplicateKeysAreRejected() {
        #expect(throws: JSONParseError(.duplicateKey, at: 8)) { try JSON(parsing: #"{"a":1, "a":2}"#) }
        #expect(Self.reason(#"{"a":{"b":1,"b":1}}"#) == .duplicateKey)
        #expect(Self.reason(#"{"a":1,"\u0061":2}"#) == .duplicateKey)
        #expect(Self.value(#"{"a":{"a":1}}"#) != nil)
    }

    @Test func depthIsLimited() {
        let limits = JSONLimits(maximumDepth: 4, maximumBytes: 1000)
        #expect(Self.reason("[[[[1]]]]", limits: limits) == nil)
        #expect(Self.reason("[[[[[1]]]]]", limits: limits) == .tooDeep)
        #expect(Self.reason(#"[{"a":[{"b":1}]}]"#, limits: limits) == nil)
        #expect(Self.reason(#"[{"a":[{"b":[]}]}]"#, limits: limits) == .tooDeep)
        // The default limit stops a deep document long before the stack would.
        #expect(Self.reason(String(repeating: "[", count: 100_000)) == .tooDeep)
        #expect(Self.reason(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)) == nil)
    }

    @Test func sizeIsLimited() {
        let limits = JSONLimits(maximumDepth: 64, maximumBytes: 8)
        #expect(Self.reason("\"123456\"", limits: limits) == nil)
        #expect(throws: JSONParseError(.tooLarge, at: 8)) { try JSON(parsing: "\"1234567\"", limits: limits) }
    }

    @Test func grammarEdges() {
        #expect(Self.reason("") == .unexpectedEnd)
        #expect(Self.reason("   ") == .unexpectedEnd)
        #expect(Self.reason("[1") == .unexpectedEnd)
        #expect(Self.reason(#"{"a""#) == .unexpectedEnd)
        #expect(Self.reason(#"{"a" 1}"#) == .expectedColon)
        #expect(Self.reason("{1:2}") == .expectedKey)
        #expect(Self.reason("\"abc") == .unexpectedEnd)
        #expect(Self.reason("1 2") == .trailingContent)
        #expect(Self.reason("tru") == .unexpectedEnd)
        #expect(Self.reason("nul1") == .unexpectedByte)
        #expect(Self.reason("True") == .unexpectedByte)
        #expect(Self.reason("\u{FEFF}1") == .unexpectedByte)
        #expect(Self.reason("\u{0B}1") == .unexpectedByte)
        #expect(Self.value(" \t\r\n1 \t\r\n") == .int(1))
    }

    @Test(arguments: [
        #"{"a":[1,-2.5,true,false,null,"x\n\"\\\u0001é😀"],"b":{}}"#,
        "1.0", "100.0", "1e+16", "-0.0", "5e-324", "1.7976931348623157e+308", "0.1", "12345678901234567890",
        #""\u2028""#, "[[],{}]",
    ])
    func writtenTextParsesBackToTheSameValue(text: String) throws {
        let value = try JSON(parsing: text)
        #expect(try JSON(parsing: value.serialized) == value)
    }

    @Test func writerOutput() {
        #expect(JSON.object([("a", .array([.int(1), .double(2), .string("q\"\u{1}")])), ("b", .null)]).serialized
            == #"{"a":[1,2.0,"q\"\u0001"],"b":null}"#)
        #expect(JSON.double(.infinity).serialized == "null")
        #expect(JSON.array([.int(0), .int(-7), .int(Int.max), .int(Int.min)]).serialized
            == "[0,-7,9223372036854775807,-9223372036854775808]")
        #expect(JSON.string("\u{1F}\t\u{7F}é").serialized == "\"\\u001f\\t\u{7F}é\"")
        #expect(JSON.object([("k", .string("v"))]).serializedBytes == Array(#"{"k":"v"}"#.utf8))
    }

    @Test func parsesFromEveryInputKind() throws {
        let text = #"{"k":[1]}"#
        let expected = JSON.object([("k", .array([.int(1)]))])
        #expect(try JSON(parsing: text) == expected)
        #expect(try JSON(parsing: Array(text.utf8)) == expected)
        #expect(try Array(text.utf8).withUnsafeBytes { (buffer) throws(JSONParseError) in try JSON(parsing: buffer) } == expected)
        #expect(expected["k"] == .array([.int(1)]) && expected["x"] == nil)
    }
}
