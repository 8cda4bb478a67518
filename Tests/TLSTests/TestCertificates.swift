import Foundation
import TestSupport

/// A CA and certificates signed by it, made with the `openssl` command in a temporary
/// directory for the tests: the server's (localhost, 127.0.0.1; ECDSA P-256), another
/// server's (other.test; RSA-2048), and a client's (CN=alice).
final class TestCertificates: Sendable {
    let directory: String

    var caPath: String { "\(directory)/ca.pem" }
    var serverChain: String { "\(directory)/server.pem" }
    var serverKey: String { "\(directory)/server.key" }
    var otherChain: String { "\(directory)/other.pem" }
    var otherKey: String { "\(directory)/other.key" }
    var clientChain: String { "\(directory)/client.pem" }
    var clientKey: String { "\(directory)/client.key" }

    /// Made once per test process: key generation takes a while.
    static let shared: TestCertificates = {
        do {
            return try TestCertificates()
        } catch {
            fatalError("cannot make test certificates: \(error)")
        }
    }()

    private init() throws {
        directory = NSTemporaryDirectory() + "pushwave-tls-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=Pushwave Test CA", "-keyout", "ca.key", "-out", "ca.pem")
        try issue("server", key: ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], subject: "/CN=localhost",
                  names: "subjectAltName=DNS:localhost,IP:127.0.0.1")
        try issue("other", key: ["rsa:2048"], subject: "/CN=other.test", names: "subjectAltName=DNS:other.test")
        try issue("client", key: ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], subject: "/CN=alice/O=Pushwave Tests",
                  names: "extendedKeyUsage=clientAuth")
    }

    private func issue(_ name: String, key: [String], subject: String, names: String) throws {
        try openssl(["req", "-newkey"] + key + ["-nodes", "-subj", subject, "-keyout", "\(name).key", "-out", "\(name).csr"])
        try names.write(toFile: "\(directory)/\(name).ext", atomically: true, encoding: .utf8)
        try openssl("x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-days", "2", "-extfile", "\(name).ext", "-out", "\(name).pem")
    }

    private func openssl(_ arguments: String...) throws {
        try openssl(arguments)
    }

    private func openssl(_ arguments: [String]) throws {
        // In the certificates' directory: the arguments name their files relative to it.
        let shell = ["/bin/sh", "-c", "cd \"$0\" && exec openssl \"$@\"", directory]
        guard try runChildProgram(shell + arguments).status == 0 else {
            throw ChildProgramError(description: "openssl \(arguments.joined(separator: " ")) failed")
        }
    }
}
