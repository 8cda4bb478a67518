/// Which end of a WebSocket connection this side plays.
///
/// The role decides masking (RFC 6455 §5.1): a client masks every frame it
/// sends and a server never does, so a server rejects unmasked frames and a
/// client rejects masked ones.
public enum Role: Sendable {
    /// Accepts connections; expects masked frames from its peer.
    case server
    /// Opens connections; expects unmasked frames from its peer.
    case client

    /// Whether frames arriving from the peer must carry a masking key.
    var expectsMaskedFrames: Bool { self == .server }
}
