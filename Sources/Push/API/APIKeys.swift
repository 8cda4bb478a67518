import Synchronization

/// The keys that authorize calls to the HTTP publish API (`Authorization: Bearer KEY`),
/// replaceable while the server runs (to rotate them).
///
/// A key is compared in constant time: both the presented and each configured key are
/// reduced to an HMAC under a random per-process key, and the codes compared with
/// `CRYPTO_memcmp`, so neither a key's bytes nor its length show in the timing.
public final class APIKeys: Sendable {
    private let digests: Mutex<[[UInt8]]>
    private let blinding: [UInt8]

    public init(_ keys: [String] = []) {
        var generator = SystemRandomNumberGenerator()
        blinding = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        digests = Mutex([])
        replace(with: keys)
    }

    /// The keys in the file at `path`: one per line, blank lines and `#` comments ignored.
    public static func keys(fromFile path: String) throws(SecretFileError) -> [String] {
        try SecretFile.entries(SecretFile.read(path, maximumBytes: 1 << 20)).map { String($0.secret) }
    }

    /// Replaces every key (e.g. after the key file changed).
    public func replace(with keys: [String]) {
        let computed = keys.map(digest)
        digests.withLock { $0 = computed }
    }

    public var isEmpty: Bool { digests.withLock { $0.isEmpty } }

    /// Whether `presented` is one of the keys.
    public func accepts(_ presented: String) -> Bool {
        let candidate = digest(presented)
        return digests.withLock { keys in
            // Every key is compared, so the position of a match does not show either.
            keys.reduce(false) { found, key in HMACSHA256.constantTimeEqual(key, candidate) || found }
        }
    }

    private func digest(_ key: String) -> [UInt8] {
        Array(key.utf8).withUnsafeBytes { HMACSHA256.code(key: blinding, message: $0) } ?? []
    }
}
