import CEpollShim

/// The readiness bits that epoll reports for a descriptor.
public struct IOEvents: OptionSet, Sendable {
    /// The epoll event bits (`EPOLLIN`, `EPOLLOUT`, ...).
    public let rawValue: UInt32
    /// Wraps epoll event bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bytes can be read, or a listener has connections to accept.
    public static let readable = IOEvents(rawValue: pw_EPOLLIN)
    /// The socket's send buffer has room again.
    public static let writable = IOEvents(rawValue: pw_EPOLLOUT)
    /// The peer shut down its sending side.
    public static let peerClosed = IOEvents(rawValue: pw_EPOLLRDHUP)
    /// Both directions are closed.
    public static let hangUp = IOEvents(rawValue: pw_EPOLLHUP)
    /// An error is pending on the descriptor.
    public static let error = IOEvents(rawValue: pw_EPOLLERR)
}
