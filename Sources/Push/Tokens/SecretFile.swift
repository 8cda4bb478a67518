import HTTP

#if canImport(Glibc)
import Glibc
#endif

/// Why a file of secrets (token secrets, API keys) could not be read.
public struct SecretFileError: Error, Sendable, Equatable {
    public let reason: String
}

/// Reads a small file of secrets whole: text, one secret per line. One reader for token
/// secrets and API keys, bounded so that a wrong path (a device, a log) fails clearly.
enum SecretFile {
    static func read(_ path: String, maximumBytes: Int) throws(SecretFileError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SecretFileError(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw SecretFileError(reason: String(cString: strerror(errno))) }
            if count == 0 { break }
            bytes += chunk[0..<count]
            guard bytes.count <= maximumBytes else { throw SecretFileError(reason: "larger than \(maximumBytes) bytes") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw SecretFileError(reason: "not UTF-8") }
        return text
    }

    /// The secrets of a file's text with their line numbers (from 1): one a line, spaces and
    /// tabs around it removed, blank lines and `#` comments skipped.
    static func entries(_ text: String) -> [(line: Int, secret: Substring)] {
        // "\r\n" is one Character in Swift, so a file written on Windows needs its own separator.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        return lines.enumerated().compactMap { number, line in
            let secret = Substring(HTTPHeadSyntax.trimmingWhitespace(line.utf8))
            return secret.isEmpty || secret.hasPrefix("#") ? nil : (number + 1, secret)
        }
    }
}
