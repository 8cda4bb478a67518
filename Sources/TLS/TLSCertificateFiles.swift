/// A server certificate as PEM files: the chain (leaf first, then intermediates) and its key.
public struct TLSCertificateFiles: Sendable, Equatable {
    public var chainPath: String
    public var keyPath: String

    public init(chainPath: String, keyPath: String) {
        self.chainPath = chainPath
        self.keyPath = keyPath
    }
}
