import COpenSSLShim

/// HMAC-SHA-256 (RFC 2104) and a constant-time comparison, from libcrypto. An SPI, not
/// API: public only for the fuzz targets.
@_spi(Internals) public enum HMACSHA256 {
    /// The size of a code, in bytes.
    public static let byteCount = 32

    /// The code of `message` under `key`; nil only if libcrypto failed.
    public static func code(key: [UInt8], message: UnsafeRawBufferPointer) -> [UInt8]? {
        var code = [UInt8](repeating: 0, count: byteCount)
        let status = key.withUnsafeBytes { key in
            code.withUnsafeMutableBufferPointer { code in
                pw_hmac_sha256(key.baseAddress, key.count, message.baseAddress, message.count, code.baseAddress)
            }
        }
        return status == 0 ? code : nil
    }

    /// Whether `a` and `b` hold the same bytes, in a time that does not depend on where they
    /// differ (so that a forger learns nothing from how fast a guess is refused). Lengths are
    /// not secret: different lengths are unequal at once.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in pw_constant_time_equal(a.baseAddress, b.baseAddress, a.count) == 1 }
        }
    }
}
