#if canImport(Glibc)
import Glibc
#endif
import Testing

import Push

@Suite struct TokenSecretsTests {
    static let first = "first secret, thirty-two bytes or more"
    static let second = "second secret, thirty-two bytes or more"

    @Test func linesCommentsAndBlanks() throws {
        let secrets = try TokenSecrets(lines: "# rotated 2026-01\n\n  \(Self.first)  \r\n\t\(Self.second)\n# old\n")
        #expect(secrets.keys == [Array(Self.first.utf8), Array(Self.second.utf8)])
    }

    @Test func refusals() {
        #expect(throws: TokenSecretsError.noSecrets) { try TokenSecrets(lines: "# nothing\n\n") }
        #expect(throws: TokenSecretsError.secretTooShort(line: 2)) { try TokenSecrets(lines: "\(Self.first)\nshort\n") }
        #expect(throws: TokenSecretsError.noSecrets) { try TokenSecrets(keys: []) }
        #expect(throws: TokenSecretsError.missingEnvironmentVariable("PUSHWAVE_TEST_UNSET_SECRET")) {
            try TokenSecrets.fromEnvironment("PUSHWAVE_TEST_UNSET_SECRET")
        }
        #expect(throws: (any Error).self) { try TokenSecrets.fromFile("/nonexistent/pushwave-secrets") }
    }

    @Test func fromEnvironment() throws {
        setenv("PUSHWAVE_TEST_TOKEN_SECRET", "\(Self.first)\n\(Self.second)", 1)
        defer { unsetenv("PUSHWAVE_TEST_TOKEN_SECRET") }
        #expect(try TokenSecrets.fromEnvironment("PUSHWAVE_TEST_TOKEN_SECRET").keys.count == 2)
    }

    @Test func fromFile() throws {
        var template = Array("/tmp/pushwave-secrets-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(path) }
        let text = "# test\n\(Self.second)\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        #expect(try TokenSecrets.fromFile(path).keys == [Array(Self.second.utf8)])
    }
}
