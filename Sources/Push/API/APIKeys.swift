import COpenSSLShim
import Synchronization

/// The keys that authorize calls to the HTTP publish API (`Authorization: Bearer KEY`),
/// replaceable while the server runs (to rotate them).
///
/// A key is compared in constant time: the presented key is copied into a buffer as wide as
/// the longest configured key (zero-padded), which is compared with every key, each padded
/// the same way, by `CRYPTO_memcmp`; the lengths are compared as numbers. The time depends
/// on the configured width only, so neither a key's bytes nor its length show in it, nor
/// which key matched. (It used to compare HMACs of both sides: as safe, but an HMAC per
/// request cost more than the rest of a publish.)
public final class APIKeys: Sendable {
    /// The keys, zero-padded to `width` bytes, with their lengths.
    private struct Table: Sendable {
        var padded: [[UInt8]] = []
        var lengths: [Int] = []
        var width = 0
    }

    private let table = Mutex(Table())

    public init(_ keys: [String] = []) {
        replace(with: keys)
    }

    /// The keys in the file at `path`: one per line, blank lines and `#` comments ignored.
    public static func keys(fromFile path: String) throws(SecretFileError) -> [String] {
        try SecretFile.entries(SecretFile.read(path, maximumBytes: 1 << 20)).map { String($0.secret) }
    }

    /// Replaces every key (e.g. after the key file changed).
    public func replace(with keys: [String]) {
        var computed = Table()
        computed.width = keys.reduce(1) { max($0, $1.utf8.count) }
        for key in keys {
            computed.padded.append(Array(key.utf8) + [UInt8](repeating: 0, count: computed.width - key.utf8.count))
            computed.lengths.append(key.utf8.count)
        }
        table.withLock { $0 = computed }
    }

    public var isEmpty: Bool { table.withLock { $0.padded.isEmpty } }

    /// Whether `presented` is one of the keys.
    public func accepts(_ presented: String) -> Bool {
        var presented = presented
        return presented.withUTF8 { candidate in
            table.withLock { table in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: table.width) { buffer in
                    buffer.initialize(repeating: 0)
                    if let start = candidate.baseAddress, let destination = buffer.baseAddress {
                        destination.update(from: start, count: min(candidate.count, table.width))
                    }
                    // Every key is compared, without a branch on the outcome, so the position
                    // of a match does not show either.
                    var found = 0
                    for (key, length) in zip(table.padded, table.lengths) {
                        let same = key.withUnsafeBytes { pw_constant_time_equal(buffer.baseAddress, $0.baseAddress, table.width) }
                        found |= Int(same) & (length == candidate.count ? 1 : 0)
                    }
                    return found == 1
                }
            }
        }
    }
}
