extension JSON {
    /// Parses one JSON document (RFC 8259) from UTF-8 bytes, strictly.
    ///
    /// Meant for untrusted input: the document must fit `limits`, and everything the grammar
    /// does not allow is an error, not a guess — trailing commas, leading zeros, unknown or
    /// incomplete escapes, lone surrogates (escaped or encoded), unescaped control characters,
    /// invalid UTF-8, a byte-order mark, anything after the value. Duplicate keys are rejected
    /// too: parsers disagree on which member wins, and a token or a request read one way here
    /// and another way elsewhere is how checks get bypassed.
    public init(parsing bytes: UnsafeRawBufferPointer, limits: JSONLimits = .default) throws(JSONParseError) {
        var parser = JSONParser(bytes: bytes, limits: limits)
        self = try parser.document()
    }

    /// Parses one JSON document from UTF-8 bytes; see ``init(parsing:limits:)-(UnsafeRawBufferPointer,_)``.
    public init(parsing bytes: [UInt8], limits: JSONLimits = .default) throws(JSONParseError) {
        // withUnsafeBytes rethrows untyped errors; a Result carries the typed one out.
        self = try bytes.withUnsafeBytes { buffer in Self.result(parsing: buffer, limits: limits) }.get()
    }

    /// Parses one JSON document from text; see ``init(parsing:limits:)-(UnsafeRawBufferPointer,_)``.
    public init(parsing text: String, limits: JSONLimits = .default) throws(JSONParseError) {
        var text = text
        self = try text.withUTF8 { Self.result(parsing: UnsafeRawBufferPointer($0), limits: limits) }.get()
    }

    private static func result(parsing bytes: UnsafeRawBufferPointer, limits: JSONLimits) -> Result<JSON, JSONParseError> {
        Result { () throws(JSONParseError) in try JSON(parsing: bytes, limits: limits) }
    }
}

/// A recursive-descent parser over borrowed bytes. Recursion is bounded by the depth limit,
/// so the stack it uses is too.
struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private let limits: JSONLimits
    private var index = 0
    private var depth = 0

    init(bytes: UnsafeRawBufferPointer, limits: JSONLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    mutating func document() throws(JSONParseError) -> JSON {
        guard bytes.count <= limits.maximumBytes else { throw JSONParseError(.tooLarge, at: limits.maximumBytes) }
        let value = try value()
        skipWhitespace()
        guard index == bytes.count else { throw failure(.trailingContent) }
        return value
    }

    // MARK: Bytes

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func failure(_ reason: JSONParseError.Reason) -> JSONParseError {
        JSONParseError(index < bytes.count ? reason : .unexpectedEnd, at: index)
    }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    // MARK: Values

    private mutating func value() throws(JSONParseError) -> JSON {
        skipWhitespace()
        guard let byte = current else { throw failure(.unexpectedEnd) }
        switch byte {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw failure(.unexpectedByte)
        }
    }

    private mutating func literal(_ word: StaticString, _ value: JSON) throws(JSONParseError) -> JSON {
        for expected in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
            guard current == expected else { throw failure(.unexpectedByte) }
            index += 1
        }
        return value
    }

    /// Enters an array or object: past the depth limit the document is rejected before any
    /// further recursion.
    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        guard depth <= limits.maximumDepth else { throw failure(.tooDeep) }
        index += 1
    }

    /// After an element: true on a comma (another element must follow), false on `closing`.
    private mutating func separator(closing: UInt8) throws(JSONParseError) -> Bool {
        skipWhitespace()
        switch current {
        case UInt8(ascii: ","):
            index += 1
            return true
        case closing:
            index += 1
            return false
        default:
            throw failure(.unexpectedByte)
        }
    }

    private mutating func array() throws(JSONParseError) -> JSON {
        try enterContainer()
        var values: [JSON] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
        } else {
            repeat { values.append(try value()) } while try separator(closing: UInt8(ascii: "]"))
        }
        depth -= 1
        return .array(values)
    }

    private mutating func object() throws(JSONParseError) -> JSON {
        try enterContainer()
        var fields: [(String, JSON)] = []
        var keys = Set<String>()
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
        } else {
            repeat {
                let (key, value) = try member()
                guard keys.insert(key).inserted else { throw JSONParseError(.duplicateKey, at: value.offset) }
                fields.append((key, value.json))
            } while try separator(closing: UInt8(ascii: "}"))
        }
        depth -= 1
        return .object(fields)
    }

    /// One `"key": value` member, with the offset of its key (for a duplicate-key error).
    private mutating func member() throws(JSONParseError) -> (String, (json: JSON, offset: Int)) {
        skipWhitespace()
        let keyOffset = index
        guard current == UInt8(ascii: "\"") else { throw failure(.expectedKey) }
        let key = try string()
        skipWhitespace()
        guard current == UInt8(ascii: ":") else { throw failure(.expectedColon) }
        index += 1
        return (key, (try value(), keyOffset))
    }

    // MARK: Strings

    /// A string from its opening quote. A run without escapes, the common case, is validated
    /// and converted in place; escapes switch to building the UTF-8 in a buffer.
    private mutating func string() throws(JSONParseError) -> String {
        index += 1
        let start = index
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 { index += 1 }
        guard current == UInt8(ascii: "\"") else { return try escapedString(from: start) }
        guard let text = String(validating: bytes[start..<index], as: UTF8.self) else {
            throw JSONParseError(.invalidUTF8, at: start)
        }
        index += 1
        return text
    }

    private mutating func escapedString(from start: Int) throws(JSONParseError) -> String {
        var utf8 = Array(bytes[start..<index])
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: utf8, as: UTF8.self) else { throw JSONParseError(.invalidUTF8, at: start) }
                return text
            case UInt8(ascii: "\\"):
                try escape(into: &utf8)
            case 0..<0x20:
                throw failure(.controlCharacterInString)
            default:
                utf8.append(byte)
                index += 1
            }
        }
        throw failure(.unexpectedEnd)
    }

    /// One escape, from its backslash, appended to `utf8` as UTF-8.
    private mutating func escape(into utf8: inout [UInt8]) throws(JSONParseError) {
        let escapeOffset = index
        index += 1
        guard let letter = current else { throw failure(.unexpectedEnd) }
        index += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(letter)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            let scalar = try unicodeEscape(at: escapeOffset)
            UTF8.encode(scalar) { utf8.append($0) }
        default:
            throw JSONParseError(.invalidEscape, at: escapeOffset)
        }
    }

    /// The scalar of a `\u` escape whose four digits start at `index`: a high surrogate must
    /// be followed at once by an escaped low one, and the pair makes one scalar.
    private mutating func unicodeEscape(at escapeOffset: Int) throws(JSONParseError) -> Unicode.Scalar {
        let code = try hexQuad()
        switch code {
        case 0xD800...0xDBFF:
            guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                throw JSONParseError(.invalidSurrogate, at: escapeOffset)
            }
            index += 2
            let low = try hexQuad()
            guard (0xDC00...0xDFFF).contains(low), let scalar = Unicode.Scalar(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)) else {
                throw JSONParseError(.invalidSurrogate, at: escapeOffset)
            }
            return scalar
        case 0xDC00...0xDFFF:
            throw JSONParseError(.invalidSurrogate, at: escapeOffset)
        default:
            // Every other value below 0x10000 is a scalar.
            guard let scalar = Unicode.Scalar(code) else { throw JSONParseError(.invalidSurrogate, at: escapeOffset) }
            return scalar
        }
    }

    private mutating func hexQuad() throws(JSONParseError) -> UInt32 {
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = Self.hexDigit(byte) else { throw failure(.invalidEscape) }
            code = code << 4 | digit
            index += 1
        }
        return code
    }

    private static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    // MARK: Numbers

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`: an integer literal within 64
    /// bits is exact; anything else goes through `Double`, and must be finite.
    private mutating func number() throws(JSONParseError) -> JSON {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        guard let first = current, Self.isDigit(first) else { throw failure(.invalidNumber) }
        index += 1
        if first == UInt8(ascii: "0") {
            if let next = current, Self.isDigit(next) { throw failure(.leadingZero) }
        } else {
            skipDigits()
        }
        let integerEnd = index
        var isInteger = true
        if current == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try requireDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            try requireDigits()
        }
        if isInteger, let value = exactInteger(integerStart..<integerEnd, negative: integerStart > start) { return .int(value) }
        guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else {
            throw JSONParseError(.numberOutOfRange, at: start)
        }
        return .double(value)
    }

    private mutating func skipDigits() {
        while let byte = current, Self.isDigit(byte) { index += 1 }
    }

    private mutating func requireDigits() throws(JSONParseError) {
        guard let byte = current, Self.isDigit(byte) else { throw failure(.invalidNumber) }
        skipDigits()
    }

    /// The integer whose decimal digits are at `range`, or nil if it does not fit 64 bits.
    private func exactInteger(_ range: Range<Int>, negative: Bool) -> Int? {
        var magnitude: UInt64 = 0
        for byte in bytes[range] {
            let (shifted, overflowed) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carried) = shifted.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflowed, !carried else { return nil }
            magnitude = sum
        }
        if negative {
            // Two's complement reaches one further below zero than above it.
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return Int(exactly: Int64(truncatingIfNeeded: 0 &- magnitude))
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int(exactly: magnitude)
    }
}
