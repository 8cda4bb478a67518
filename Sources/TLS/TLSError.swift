/// Why a TLS context could not be built: a file that cannot be read or parsed, a key that
/// does not match its certificate, a certificate outside its validity period.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// One line, meant for the person who configured the files.
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Calls `body` with a buffer for the shim's error message, and throws it if `body` fails.
func withShimError<T>(_ body: (UnsafeMutablePointer<CChar>, Int) -> T?) throws -> T {
    var message = [CChar](repeating: 0, count: 512)
    let result = message.withUnsafeMutableBufferPointer { buffer -> T? in
        guard let base = buffer.baseAddress else { return nil }
        return body(base, buffer.count)
    }
    if let result { return result }
    throw TLSError(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
}
