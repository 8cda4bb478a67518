/// The permessage-deflate parameters both ends agreed on (RFC 7692 §7.1): what each
/// side's compressor may do, and so what each side's decompressor must accept.
@_spi(Internals)
public struct DeflateParameters: Sendable, Equatable {
    public var serverNoContextTakeover: Bool
    public var clientNoContextTakeover: Bool
    /// The window of the server's compressor, 8–15.
    public var serverMaxWindowBits: Int
    /// The window of the client's compressor, 8–15.
    public var clientMaxWindowBits: Int

    public init(
        serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
        serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15
    ) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }

    /// The window `role` compresses with.
    public func sendWindowBits(as role: Role) -> Int {
        role == .server ? serverMaxWindowBits : clientMaxWindowBits
    }

    /// The window `role` must decompress with: the peer's.
    public func receiveWindowBits(as role: Role) -> Int {
        role == .server ? clientMaxWindowBits : serverMaxWindowBits
    }

    /// Whether `role`'s compressor keeps its history from one message to the next.
    public func sendsWithContextTakeover(as role: Role) -> Bool {
        !(role == .server ? serverNoContextTakeover : clientNoContextTakeover)
    }

    /// Whether `role`'s decompressor must keep the peer's history from one message to the next.
    public func receivesWithContextTakeover(as role: Role) -> Bool {
        !(role == .server ? clientNoContextTakeover : serverNoContextTakeover)
    }
}
