/// Anything the loop watches: a descriptor and what to do when it becomes ready.
///
/// Subclass it to put a descriptor of your own (a pipe, a timerfd, a UNIX socket) on the
/// loop: register it with `EventLoop.register(_:fd:events:)` and override `handleEvents(_:)`.
/// Every method runs on the loop's thread; the object is confined to its loop.
open class Selectable: @unchecked Sendable {
    /// The loop this object belongs to. A strong reference on purpose: the cycle with the
    /// loop's registration table ends when the object is closed or the loop shuts down, and
    /// a strong `let` costs no reference counting to use, unlike an unowned one.
    public let loop: EventLoop
    /// The descriptor, or -1 when not registered.
    // `@exclusivity(unchecked)`: see `TCPConnection`'s documentation.
    @exclusivity(unchecked)
    public internal(set) var fd: Int32 = -1
    /// Its place in the loop's registration table while registered.
    @exclusivity(unchecked)
    var slot: UInt32 = 0
    /// Changes with every registration, so an event queued for an object whose slot now
    /// holds another is recognised as stale and dropped.
    @exclusivity(unchecked)
    var registrationID: UInt32 = 0
    /// Set while the object waits on the loop's ready list (see `EventLoop.markReady`).
    @exclusivity(unchecked)
    var isOnReadyList = false

    /// Creates an object for `loop`; it watches nothing until registered.
    public init(loop: EventLoop) {
        self.loop = loop
    }

    /// Called on the loop's thread when the descriptor is ready. Edge-triggered: consume
    /// everything available (until `EAGAIN`), or call `loop.markReady(self)` to be called
    /// again on the next iteration.
    open func handleEvents(_ events: IOEvents) {}

    /// A timer scheduled with `EventLoop.scheduleTimer(for:afterMilliseconds:)` came due.
    /// Such timers cost no allocation, unlike closures: the way for objects that exist by the
    /// thousand (connections) to time out.
    open func timerFired() {}

    /// Called when the loop shuts down while this object is still registered; the default
    /// deregisters it. Descriptors the loop owns are closed by their subclasses.
    open func loopWillClose() {
        loop.deregister(self)
    }
}
