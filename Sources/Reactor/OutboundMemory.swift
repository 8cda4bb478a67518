/// What one loop's connections hold in bytes queued for sending: their own copies of what
/// the kernel did not take, and every ``SharedBuffer`` made on the loop, counted once
/// however many connections refer to it.
///
/// A plain counter, confined to the loop's thread: it changes when bytes are queued or
/// leave a queue (not on the path where the kernel takes a write whole), never with an
/// atomic or a lock. A layer above reads it to enforce a budget (see `WebSocketConfiguration`).
public final class OutboundMemory {
    // `@exclusivity(unchecked)`: see `TCPConnection`'s documentation.
    /// Queued bytes: owned copies in send queues plus the size of every live shared buffer.
    @exclusivity(unchecked)
    public internal(set) var queuedBytes = 0
    /// Shared buffers alive (made and not yet freed): a leak check for tests and metrics.
    @exclusivity(unchecked)
    public internal(set) var sharedBuffers = 0

    /// Nothing queued.
    public init() {}
}
