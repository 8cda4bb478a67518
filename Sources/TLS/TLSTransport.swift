import COpenSSLShim
import Reactor

#if canImport(Glibc)
import Glibc
#endif

/// TLS between a connection's socket and its protocol: set it as the connection's
/// `transport` before the connection is adopted or connects.
///
/// Ciphertext is read from the socket into the loop's shared input buffer and decrypted
/// straight into the buffer the connection hands in (the loop's receive buffer, which the
/// protocol parses in place). What a connection writes in one corked iteration is encrypted
/// into as few records as possible and sent with one `send`. Between operations a connection
/// holds only OpenSSL's session state: its record buffers are released when it goes idle,
/// and records the socket did not take are kept only until it takes them.
public final class TLSTransport: SocketTransport {
    public let context: TLSContext
    private let resources: TLSLoopResources
    /// Nil only if OpenSSL could not allocate the connection: the handshake then fails.
    private let tls: OpaquePointer?
    private var inputLeft = false
    /// Why the handshake or a later operation failed, from OpenSSL, once it has.
    public private(set) var failureReason: String?

    /// A transport for one connection on `loop` (call on the loop's thread). `serverName`
    /// (client side) is sent as SNI and is the name the server's certificate must carry.
    public init(context: TLSContext, loop: EventLoop, serverName: String? = nil) {
        self.context = context
        resources = TLSLoopResources.on(loop)
        tls = pw_tls_new(context.pointer, resources.io, context.isServer ? 1 : 0, serverName)
        super.init()
    }

    deinit {
        pw_tls_free(tls)
    }

    public override func handshake(on fd: Int32) -> HandshakeProgress {
        guard let tls else { return .failed(ENOMEM) }
        guard resources.takeHandshakeStep(limit: context.handshakeStepsPerIteration) else { return .yielded }
        let result = pw_tls_handshake(tls, fd)
        switch result {
        case 1:
            resources.handshakeEnded()
            return .complete
        case 0: return .pending
        default:
            resources.handshakeEnded()
            recordFailure()
            return .failed(-result)
        }
    }

    public override func receive(from fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let tls, let base = buffer.baseAddress else { return -Int(EBADF) }
        var more: Int32 = 0
        let result = pw_tls_receive(tls, fd, base.assumingMemoryBound(to: UInt8.self), buffer.count, &more)
        inputLeft = more != 0
        if result == -Int(EPROTO) { recordFailure() }
        return result
    }

    public override var hasBufferedInput: Bool { inputLeft }

    public override func send(to fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Int {
        guard let tls else { return -Int(EBADF) }
        let result = pw_tls_send(
            tls, fd, first.baseAddress?.assumingMemoryBound(to: UInt8.self), first.count,
            second.baseAddress?.assumingMemoryBound(to: UInt8.self), second.count)
        if result == -Int(EPROTO) { recordFailure() }
        return result
    }

    public override var hasBufferedOutput: Bool {
        guard let tls else { return false }
        return pw_tls_has_buffered_output(tls) != 0
    }

    public override func flush(to fd: Int32) -> Int {
        guard let tls else { return 0 }
        return Int(pw_tls_flush(tls, fd))
    }

    public override func shutdown(on fd: Int32) {
        guard let tls else { return }
        pw_tls_shutdown(tls, fd)
    }

    // MARK: What was negotiated

    /// "TLSv1.2" or "TLSv1.3" once the handshake is complete.
    public var protocolVersion: String {
        guard let tls else { return "" }
        return String(cString: pw_tls_version(tls))
    }

    /// The ALPN protocol selected ("http/1.1"), or nil when none was.
    public var applicationProtocol: String? {
        guard let tls else { return nil }
        var name = [CChar](repeating: 0, count: 256)
        pw_tls_alpn(tls, &name, name.count)
        let text = Self.string(name)
        return text.isEmpty ? nil : text
    }

    /// The SNI name the client sent, or nil.
    public var serverName: String? {
        guard let tls else { return nil }
        let name = String(cString: pw_tls_server_name(tls))
        return name.isEmpty ? nil : name
    }

    /// The subject (RFC 2253, e.g. `CN=alice,O=Example`) of the certificate the peer
    /// presented and that was verified (mTLS on a server); nil when it presented none.
    /// Computed when asked, so that connections keep no copy of it.
    public var peerCertificateSubject: String? {
        guard let tls else { return nil }
        var subject = [CChar](repeating: 0, count: 1024)
        guard pw_tls_peer_subject(tls, &subject, subject.count) >= 0 else { return nil }
        return Self.string(subject)
    }

    private func recordFailure() {
        guard let tls, failureReason == nil else { return }
        var reason = [CChar](repeating: 0, count: 512)
        pw_tls_last_error(tls, &reason, reason.count)
        failureReason = Self.string(reason)
    }

    private static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
