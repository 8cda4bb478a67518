#if canImport(Glibc)
import Glibc
#endif

/// The secrets that may have signed a connection token, newest first by convention: during a
/// rotation the issuer signs with the new secret while tokens signed with the old one still
/// verify.
///
/// Secrets come from an environment variable's value or from a file, never from the command
/// line (where any user of the machine can read them in the process list). Both hold one
/// secret per line; blank lines and lines starting with `#` are ignored, and spaces around a
/// secret are trimmed. Each secret is at least 32 bytes, the size of the HS256 code
/// (RFC 7518 §3.2).
public struct TokenSecrets: Sendable, Equatable {
    /// The shortest secret accepted, in bytes.
    public static let minimumKeyBytes = 32
    /// The largest secrets file read, in bytes.
    public static let maximumFileBytes = 64 * 1024

    /// The secrets as bytes.
    public let keys: [[UInt8]]

    /// Secrets given as bytes.
    public init(keys: [[UInt8]]) throws(TokenSecretsError) {
        guard !keys.isEmpty else { throw .noSecrets }
        if let short = keys.firstIndex(where: { $0.count < Self.minimumKeyBytes }) { throw .secretTooShort(line: short + 1) }
        self.keys = keys
    }

    /// The secrets in `text`, one a line.
    public init(lines text: String) throws(TokenSecretsError) {
        var keys: [[UInt8]] = []
        for (number, secret) in SecretFile.entries(text) {
            guard secret.utf8.count >= Self.minimumKeyBytes else { throw .secretTooShort(line: number) }
            keys.append(Array(secret.utf8))
        }
        try self.init(keys: keys)
    }

    /// The secrets in the value of the environment variable `name`.
    public static func fromEnvironment(_ name: String) throws(TokenSecretsError) -> TokenSecrets {
        guard let value = getenv(name) else { throw .missingEnvironmentVariable(name) }
        return try TokenSecrets(lines: String(cString: value))
    }

    /// The secrets in the file at `path`.
    public static func fromFile(_ path: String) throws(TokenSecretsError) -> TokenSecrets {
        let text: String
        do throws(SecretFileError) {
            text = try SecretFile.read(path, maximumBytes: maximumFileBytes)
        } catch {
            throw .unreadableFile(path, reason: error.reason)
        }
        return try TokenSecrets(lines: text)
    }
}

/// Why token secrets could not be loaded.
public enum TokenSecretsError: Error, Sendable, Equatable {
    /// No secret at all (only blank lines and comments).
    case noSecrets
    /// The secret on this line (counting from 1) is shorter than ``TokenSecrets/minimumKeyBytes``.
    case secretTooShort(line: Int)
    /// The environment variable is not set.
    case missingEnvironmentVariable(String)
    /// The file could not be read: its path, and why.
    case unreadableFile(String, reason: String)

    /// A short explanation, which never includes a secret.
    public var reason: String {
        switch self {
        case .noSecrets: "no token secret given"
        case .secretTooShort(let line): "token secret on line \(line) is shorter than \(TokenSecrets.minimumKeyBytes) bytes"
        case .missingEnvironmentVariable(let name): "environment variable \(name) is not set"
        case .unreadableFile(let path, let reason): "cannot read token secrets from \(path): \(reason)"
        }
    }
}
