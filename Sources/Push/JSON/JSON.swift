/// A JSON value (RFC 8259), as read by ``JSON/init(parsing:limits:)-(UnsafeRawBufferPointer,_)``
/// and written by ``JSON/serialized``.
///
/// Numbers keep the distinction a reader needs: an integer literal (no fraction, no exponent)
/// that fits a 64-bit integer is ``int(_:)``, exactly; every other number is ``double(_:)``.
/// Objects keep their members in document order, so that what is written out reads in the
/// order it was built; the parser rejects duplicate keys, so a key names at most one member.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// An integer literal that fits 64 bits (`Int` is 64 bits on every platform Pushwave runs on).
    case int(Int)
    /// Any other number: a fraction, an exponent, or an integer beyond 64 bits. Always finite
    /// when parsed.
    case double(Double)
    case string(String)
    case array([JSON])
    /// The members in document order.
    case object([(String, JSON)])

    /// Structural equality; objects compare member by member, in order.
    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value of the member named `key`, or nil if this is not an object or has no such member.
    public subscript(key: String) -> JSON? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }

    /// The number as an integer: an ``int(_:)``, or a ``double(_:)`` truncated when it is
    /// within ±9e18; nil for anything else.
    public var intValue: Int? {
        switch self {
        case .int(let value): value
        case .double(let value) where value.isFinite && abs(value) < 9e18: Int(value)
        default: nil
        }
    }

    /// The number as a `Double` (an ``int(_:)`` is converted); nil if this is not a number.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The string, or nil if this is not a string.
    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    /// The Boolean, or nil if this is not `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    /// The elements, or nil if this is not an array.
    public var arrayValue: [JSON]? {
        if case .array(let values) = self { values } else { nil }
    }
}
