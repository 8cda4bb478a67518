import COpenSSLShim

/// The key exchange of the opening handshake (RFC 6455 §1.3, §4.2.2).
@_spi(Internals)
public enum Handshake {
    /// The GUID that every `Sec-WebSocket-Accept` is derived with.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The `Sec-WebSocket-Accept` value answering `key`: the base64 of the
    /// SHA-1 of the key followed by the GUID. SHA-1 serves here as a
    /// fingerprint proving the server read the request, not for security.
    public static func acceptValue(forKey key: String) -> String {
        let input = Array((key + guid).utf8)
        var digest = [UInt8](repeating: 0, count: 20)
        let status = input.withUnsafeBytes { bytes in
            digest.withUnsafeMutableBufferPointer { pw_sha1(bytes.baseAddress, bytes.count, $0.baseAddress) }
        }
        // libcrypto's SHA-1 cannot fail on valid pointers; if it ever did, no client would
        // accept the handshake, which is the safe outcome.
        precondition(status == 0, "libcrypto SHA-1 failed")
        return Base64.encode(digest)
    }
}
