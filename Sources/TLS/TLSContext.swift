import COpenSSLShim
import Synchronization

/// The shared half of TLS: certificates, keys, trust and protocol settings, built once and
/// used by every connection on every loop (it is read-only once built).
///
/// A server context speaks TLS 1.2 and 1.3, selects ALPN `http/1.1` when the client offers
/// it (and answers without ALPN otherwise, so a client offering `h2` only is not failed),
/// refuses renegotiation, and picks among several certificates by the client's SNI name:
///
/// ```swift
/// let tls = try TLSContext.server(certificates: [
///     TLSCertificateFiles(chainPath: "example.pem", keyPath: "example.key"),
/// ])
/// ```
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the OpenSSL contexts behind `pointer` are not changed after the factory
    // methods return; creating connections from them is thread-safe.
    let pointer: OpaquePointer
    /// True for a server context, false for a client's.
    public let isServer: Bool
    /// Handshake steps (one call into OpenSSL each, the costly ones sign or derive keys) that
    /// one loop runs per iteration across all its connections; the rest wait their turn.
    public let handshakeStepsPerIteration: Int

    private init(pointer: OpaquePointer, isServer: Bool, handshakeStepsPerIteration: Int) {
        self.pointer = pointer
        self.isServer = isServer
        self.handshakeStepsPerIteration = max(1, handshakeStepsPerIteration)
    }

    deinit {
        pw_tls_context_free(pointer)
    }

    /// A server context. The first certificate is the default; the others are used when the
    /// client's SNI name matches one of their names. With `clientCertificateAuthority` (a PEM
    /// file), every client must present a certificate that chains to it (mTLS).
    public static func server(
        certificates: [TLSCertificateFiles], clientCertificateAuthority: String? = nil,
        handshakeStepsPerIteration: Int = 32
    ) throws -> TLSContext {
        guard !certificates.isEmpty else { throw TLSError("a TLS server needs a certificate") }
        let pointer = try withShimError { pw_tls_server_context_new($0, $1) }
        let context = TLSContext(pointer: pointer, isServer: true, handshakeStepsPerIteration: handshakeStepsPerIteration)
        for files in certificates {
            _ = try withShimError { error, size in
                pw_tls_context_add_certificate(pointer, files.chainPath, files.keyPath, error, size) == 0 ? true : nil
            }
        }
        if let clientCertificateAuthority {
            _ = try withShimError { error, size in
                pw_tls_context_require_client_certificates(pointer, clientCertificateAuthority, error, size) == 0 ? true : nil
            }
        }
        return context
    }

    /// A client context: offers ALPN `http/1.1` and verifies servers as `trust` says.
    public static func client(trust: TLSTrust = .system, handshakeStepsPerIteration: Int = 32) throws -> TLSContext {
        let pointer = try withShimError { error, size -> OpaquePointer? in
            switch trust {
            case .system: pw_tls_client_context_new(nil, 1, error, size)
            case .certificateAuthority(let path): pw_tls_client_context_new(path, 1, error, size)
            case .anyCertificate: pw_tls_client_context_new(nil, 0, error, size)
            }
        }
        return TLSContext(pointer: pointer, isServer: false, handshakeStepsPerIteration: handshakeStepsPerIteration)
    }

    private static let systemTrust = Mutex<TLSContext?>(nil)

    /// The client context that trusts the system's store, built once (loading the store
    /// takes milliseconds) and shared by every connection that needs it.
    public static func systemTrustClient() throws -> TLSContext {
        try systemTrust.withLock { cached in
            if let cached { return cached }
            let made = try client(trust: .system)
            cached = made
            return made
        }
    }
}
