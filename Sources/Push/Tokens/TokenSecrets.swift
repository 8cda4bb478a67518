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
        // "\r\n" is one Character in Swift, so a file written on Windows needs its own separator.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        for (number, line) in lines.enumerated() {
            let secret = line.trimmingSpaces
            if secret.isEmpty || secret.hasPrefix("#") { continue }
            guard secret.utf8.count >= Self.minimumKeyBytes else { throw .secretTooShort(line: number + 1) }
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
        let bytes = try readFile(path)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .unreadableFile(path, reason: "not UTF-8") }
        return try TokenSecrets(lines: text)
    }

    private static func readFile(_ path: String) throws(TokenSecretsError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadableFile(path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .unreadableFile(path, reason: String(cString: strerror(errno))) }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            guard bytes.count <= maximumFileBytes else { throw .unreadableFile(path, reason: "larger than \(maximumFileBytes) bytes") }
        }
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

extension Substring {
    /// Without the spaces and tabs around it.
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}
