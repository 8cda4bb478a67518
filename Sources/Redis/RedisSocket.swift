import Reactor

/// The TCP connection under a `RedisConnection`: one per connection attempt, since a closed
/// connection cannot be reused. It only forwards its events to its owner.
final class RedisSocket: TCPConnection, @unchecked Sendable {
    // Loop-confined, like the owner; weak so that a stopped owner is not kept alive.
    weak var owner: RedisConnection?
    /// The server closed its side first; the close that follows is ours only in form.
    private(set) var closedByServer = false

    override func connected() {
        owner?.socketConnected(self)
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        owner?.socketReceived(self, UnsafeRawBufferPointer(bytes))
    }

    override func endOfInput() {
        closedByServer = true
        closeTransport()
    }

    override func closed(_ reason: CloseReason) {
        owner?.socketClosed(self, reason)
    }
}
