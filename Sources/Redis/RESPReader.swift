import CHiredisShim

/// Decodes a stream of RESP replies from bytes fed in any chunking, through hiredis's
/// I/O-free reader. A protocol error is final: the connection it came from must be closed.
///
/// Confined to one thread (the loop of its connection).
public final class RESPReader {
    /// Why the stream cannot be decoded.
    public struct ProtocolError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Nil only when hiredis could not allocate, which `next()` reports as an error.
    private let reader: OpaquePointer?

    public init() {
        reader = pw_resp_reader_create()
    }

    deinit {
        pw_resp_reader_free(reader)
    }

    /// Appends received bytes; replies are taken with `next()`.
    public func feed(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) {
        guard let reader else { throw ProtocolError(description: "out of memory") }
        guard pw_resp_reader_feed(reader, bytes.baseAddress, bytes.count) == 0 else { throw failure() }
    }

    /// The next complete reply, or nil until more bytes arrive.
    public func next() throws(ProtocolError) -> RESPValue? {
        guard let reader else { throw ProtocolError(description: "out of memory") }
        var reply: OpaquePointer?
        switch pw_resp_reader_next(reader, &reply) {
        case 1:
            guard let reply else { return nil }
            defer { pw_resp_reply_free(reply) }
            return Self.value(of: reply)
        case 0:
            return nil
        default:
            throw failure()
        }
    }

    private func failure() -> ProtocolError {
        guard let reader, let message = pw_resp_reader_error(reader) else { return ProtocolError(description: "out of memory") }
        let text = String(cString: message)
        return ProtocolError(description: text.isEmpty ? "invalid RESP" : text)
    }

    /// Copies a hiredis reply tree into a Swift value (the tree is freed by the caller).
    private static func value(of reply: OpaquePointer) -> RESPValue {
        switch pw_resp_type(rawValue: UInt32(bitPattern: pw_resp_reply_type(reply))) {
        case PW_RESP_STRING: .bulk(bytes(of: reply))
        case PW_RESP_STATUS: .status(String(decoding: bytes(of: reply), as: UTF8.self))
        case PW_RESP_ERROR: .error(String(decoding: bytes(of: reply), as: UTF8.self))
        case PW_RESP_INTEGER: .integer(Int64(pw_resp_reply_integer(reply)))
        case PW_RESP_ARRAY: .array(elements(of: reply))
        default: .null
        }
    }

    private static func bytes(of reply: OpaquePointer) -> [UInt8] {
        var length = 0
        guard let start = pw_resp_reply_string(reply, &length), length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: start, count: length))
    }

    private static func elements(of reply: OpaquePointer) -> [RESPValue] {
        (0..<pw_resp_reply_count(reply)).compactMap { index in pw_resp_reply_element(reply, index).map { value(of: $0) } }
    }
}
