import Foundation
import Testing
import TLS

@Suite struct TLSContextTests {
    private let certificates = TestCertificates.shared

    @Test func aServerContextLoadsSeveralCertificatesAndAClientCA() throws {
        let context = try TLSContext.server(
            certificates: [
                TLSCertificateFiles(chainPath: certificates.serverChain, keyPath: certificates.serverKey),
                TLSCertificateFiles(chainPath: certificates.otherChain, keyPath: certificates.otherKey),
            ],
            clientCertificateAuthority: certificates.caPath)
        #expect(context.isServer)
    }

    @Test func aMissingFileIsNamedInTheError() {
        let error = #expect(throws: TLSError.self) {
            try TLSContext.server(certificates: [TLSCertificateFiles(chainPath: "/nonexistent.pem", keyPath: certificates.serverKey)])
        }
        #expect(error?.description.contains("/nonexistent.pem") == true)
    }

    @Test func aKeyThatDoesNotMatchIsRefused() {
        let error = #expect(throws: TLSError.self) {
            try TLSContext.server(certificates: [TLSCertificateFiles(chainPath: certificates.serverChain, keyPath: certificates.otherKey)])
        }
        #expect(error?.description.contains("does not match") == true)
    }

    @Test func aFileThatIsNotPEMIsRefused() throws {
        let path = certificates.directory + "/garbage.pem"
        try "not a certificate\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TLSError.self) {
            try TLSContext.server(certificates: [TLSCertificateFiles(chainPath: path, keyPath: certificates.serverKey)])
        }
    }

    @Test func aClientContextLoadsTheSystemStoreOrACAFile() throws {
        #expect(try !TLSContext.systemTrustClient().isServer)
        #expect(try !TLSContext.client(trust: .certificateAuthority(path: certificates.caPath)).isServer)
        #expect(throws: TLSError.self) { try TLSContext.client(trust: .certificateAuthority(path: "/nonexistent-ca.pem")) }
    }
}
