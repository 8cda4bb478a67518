/// Which server certificates a client accepts.
public enum TLSTrust: Sendable, Equatable {
    /// Those that chain to the system's trust store, for the name connected to.
    case system
    /// Those that chain to a certificate in this PEM file, for the name connected to.
    case certificateAuthority(path: String)
    /// Any certificate, unverified: for tests and load generation only.
    case anyCertificate
}
