/// A reply from Redis (RESP2), as the reader decodes it.
public enum RESPValue: Sendable, Equatable {
    /// A bulk string: any bytes.
    case bulk([UInt8])
    /// A simple string, e.g. `OK`.
    case status(String)
    /// An error reply, e.g. `ERR unknown command`.
    case error(String)
    case integer(Int64)
    /// A nil bulk string or nil array.
    case null
    case array([RESPValue])

    /// The text of a bulk or status reply (bulk bytes decoded as UTF-8, repaired).
    public var text: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }
}
