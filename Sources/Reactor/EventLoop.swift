import CEpollShim
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One thread's event loop: one epoll instance, edge-triggered, driving non-blocking
/// descriptors, timers and tasks handed over from other threads.
///
/// Create it on any thread, set it up, then call `run()` on the thread that will own it.
/// From then on everything registered with it runs on that thread. Only `execute(_:)` and
/// `stop()` may be called from other threads.
public final class EventLoop: @unchecked Sendable {
    /// Tuning knobs; the defaults suit a server holding many connections.
    public struct Options: Sendable {
        /// Bytes read from a socket per `read` call; one buffer shared by all connections.
        public var receiveBufferSize = 512 * 1024
        /// Output gathered from one connection's input before one `send`.
        public var corkBufferSize = 256 * 1024
        /// Full reads one connection gets per iteration before others have their turn.
        public var readsPerIteration = 4
        /// Events taken from epoll per `epoll_wait`.
        public var eventsPerWait = 1024
        /// Turns that connections in a handshake (TLS, HTTP upgrade, a WebSocket server's
        /// answer to a close frame) get per iteration, through ``EventLoop/takeHandshakeTurn()``.
        /// The rest wait for the next iteration on the ready list: a storm of connections
        /// arriving or leaving, each costing tens of microseconds, would otherwise hold up the
        /// open connections for tens of milliseconds.
        public var handshakesPerIteration = 128
        /// Connection sockets closed per iteration. The rest of the descriptors wait, already
        /// forgotten by the loop and their connections, for the first turns of the next
        /// iterations. Closing a TCP socket costs the kernel about 13 µs (the FIN, and on
        /// loopback the peer's side of it too): when thousands of clients leave at once, the
        /// loop would otherwise close up to ``eventsPerWait`` of them in one iteration and hold
        /// up the open connections for over 10 ms. Descriptors waiting to close still count
        /// against the process's descriptor limit.
        public var closesPerIteration = 64
        /// Size of the pooled blocks that back connection buffers.
        public var poolBlockSize = 16 * 1024
        /// The defaults.
        public init() {}
    }

    /// Milliseconds per timer tick: the resolution of every timeout.
    public static let tickMilliseconds: Int64 = 10

    /// Where the loop and the connections on it log.
    public let logger: Logger
    /// The options the loop was created with.
    public let options: Options
    /// The pool that backs connections' send buffers and other per-connection storage.
    public let pool: BufferPool
    /// The bytes this loop's connections have queued for sending, owned and shared.
    public let outboundMemory = OutboundMemory()

    // Loop-thread state. -----------------------------------------------------------------
    // All of it `@exclusivity(unchecked)` (see `TCPConnection`'s documentation): only the
    // loop's thread touches it, and no access spans a callback. `runOnce` reads most of it on
    // every iteration, where the dynamic checks cost more than the dispatch itself.
    private let epollFD: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    /// One object per type that a layer above keeps per loop (e.g. TLS's shared buffers).
    @exclusivity(unchecked)
    private var loopLocals: [ObjectIdentifier: AnyObject] = [:]
    /// What is registered, by slot (`Selectable.slot`), not by descriptor number: the
    /// numbers are the process's, shared by all its loops, so a table indexed by them would
    /// give every loop a slot for every descriptor of the process — a connection would cost
    /// one slot per loop instead of one.
    @exclusivity(unchecked)
    private var registrations: ContiguousArray<Selectable?> = []
    /// Slots of `registrations` given up, reused last in, first out.
    @exclusivity(unchecked)
    private var freeSlots: [UInt32] = []
    @exclusivity(unchecked)
    private var nextRegistrationID: UInt32 = 1
    @exclusivity(unchecked)
    private var readyList: [Selectable] = []
    /// The other half of `readyList`: the two swap on every pass, so that running the list
    /// neither copies it nor reallocates it.
    @exclusivity(unchecked)
    private var spareReadyList: [Selectable] = []
    @exclusivity(unchecked)
    private var timers: TimerWheel<TimerAction>
    @exclusivity(unchecked)
    private var flushHooks: [() -> Void] = []
    /// What is left of this iteration's `handshakesPerIteration`.
    @exclusivity(unchecked)
    private var handshakeTurnsLeft = 0
    /// Handshake turns refused so far (the connection waited for the next iteration).
    @exclusivity(unchecked)
    var handshakeTurnsDeferred = 0
    /// What is left of this iteration's `closesPerIteration`.
    @exclusivity(unchecked)
    private var closeTurnsLeft = 0
    /// Sockets that found no close turn, oldest first.
    @exclusivity(unchecked)
    private var deferredCloses: [Int32] = []
    /// Sockets whose close waited for a later iteration, so far.
    @exclusivity(unchecked)
    var closesDeferred = 0
    /// The thread running `run()`, 0 when none. Atomic: `execute` reads it from any thread
    /// to know whether it runs on the loop's own thread.
    private let ownerThread = Atomic<UInt>(0)
    /// The loop handed itself a task (`execute` on its own thread) that has not run yet.
    @exclusivity(unchecked)
    private var ownTasksPending = false
    @exclusivity(unchecked)
    var currentTime: Int64
    /// The loop's view of the time, updated once per iteration.
    ///
    /// A computed property over internal storage on purpose: code in other modules that read
    /// a public stored property directly was compiled with a dynamic exclusivity check (the
    /// attribute did not carry over), once per received message.
    public var now: Int64 { currentTime }

    /// The read buffer every connection reads into; its contents are valid only during the
    /// `received` callback that hands them out.
    let receiveBuffer: UnsafeMutableRawBufferPointer
    /// While a connection handles its input, its writes gather here (see `TCPConnection`).
    let corkBuffer: UnsafeMutableRawPointer
    /// Vectors for one `sendmsg` of a connection's queued pieces (see `SendQueue`).
    let sendVectors: UnsafeMutablePointer<iovec>
    /// How many `sendVectors` there are: enough pieces per system call to drain a backlog
    /// of small batches quickly, far below `IOV_MAX`.
    static let sendVectorCount = 64
    // `@exclusivity(unchecked)`: see `TCPConnection`'s documentation.
    @exclusivity(unchecked)
    var corkCount = 0
    @exclusivity(unchecked)
    var corkOwner: ObjectIdentifier?

    /// Open TCP connections on this loop.
    @exclusivity(unchecked)
    public internal(set) var connectionCount = 0

    // Shared with other threads. ----------------------------------------------------------
    /// An eventfd that other threads write to, waking `epoll_wait` when they hand over a
    /// task or ask the loop to stop.
    private let wakeUpFD: Int32
    private let inbox = Mutex<Inbox>(.open([]))
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)

    /// Creates the loop's epoll instance, wake-up eventfd and buffers. The loop does nothing
    /// until ``run()`` is called on the thread that is to own it.
    ///
    /// - Throws: ``SystemError`` when the kernel refuses an epoll instance or an eventfd.
    public init(options: Options = Options(), logger: Logger = Logger(label: "pushwave.reactor")) throws {
        self.options = options
        self.logger = logger
        self.pool = BufferPool(blockSize: options.poolBlockSize)
        let epollFD = pw_epoll_create()
        guard epollFD >= 0 else { throw SystemError("epoll_create1") }
        self.epollFD = epollFD
        events = .allocate(capacity: options.eventsPerWait)
        receiveBuffer = .allocate(byteCount: options.receiveBufferSize, alignment: 64)
        corkBuffer = .allocate(byteCount: options.corkBufferSize, alignment: 64)
        sendVectors = .allocate(capacity: Self.sendVectorCount)
        currentTime = MonotonicClock.milliseconds()
        timers = TimerWheel(startTick: currentTime / Self.tickMilliseconds)
        wakeUpFD = pw_eventfd()
        guard wakeUpFD >= 0, pw_epoll_ctl(epollFD, pw_EPOLL_CTL_ADD, wakeUpFD, pw_EPOLLIN | pw_EPOLLET, Self.wakeUpToken) == 0 else {
            let error = SystemError("eventfd")
            if wakeUpFD >= 0 { closeDescriptor(wakeUpFD) }
            closeDescriptor(epollFD)
            events.deallocate()
            receiveBuffer.deallocate()
            corkBuffer.deallocate()
            sendVectors.deallocate()
            throw error
        }
    }

    /// The epoll user word of the wake-up descriptor. Registrations pack a descriptor (never
    /// 0xFFFF_FFFF) in the low half, so none can collide with it.
    private static let wakeUpToken = UInt64.max

    deinit {
        closeDeferredSockets(all: true)
        closeDescriptor(wakeUpFD)
        closeDescriptor(epollFD)
        events.deallocate()
        receiveBuffer.deallocate()
        corkBuffer.deallocate()
        sendVectors.deallocate()
    }

    /// True when called on the thread running this loop.
    public var inEventLoop: Bool {
        let owner = ownerThread.load(ordering: .acquiring)
        return owner != 0 && pthread_equal(pthread_t(owner), pthread_self()) != 0
    }

    // MARK: Running

    /// Runs the loop on the calling thread until `stop()` is called. When it returns, every
    /// connection and listener still registered has been closed.
    public func run() {
        ownerThread.store(UInt(pthread_self()), ordering: .releasing)
        while !stopRequested.load(ordering: .acquiring) {
            runOnce()
        }
        closeEverything()
        ownerThread.store(0, ordering: .releasing)
    }

    /// Asks the loop to return from `run()`; safe from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    /// Runs `task` on the loop's thread, never inline: during its next iteration, or (called
    /// on that thread) once the current iteration's events are handled; safe from any thread.
    /// Once the loop has shut down (``run()`` is returning) the task is dropped: nothing
    /// would ever run it.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        guard inbox.withLock({ $0.add(task) }) else { return }
        // On the loop's own thread there is no one to wake: the loop does not wait while it
        // has handed itself tasks (`waitTimeout`) and runs them after this iteration's events. That
        // spares an eventfd write per iteration in which the loop hands work to itself (e.g.
        // a publication handed to the Redis connection that lives on the same loop).
        if inEventLoop {
            ownTasksPending = true
            return
        }
        wake()
    }

    /// One iteration: flush, wait for events (or the next timer), dispatch, fire timers.
    func runOnce() {
        handshakeTurnsLeft = options.handshakesPerIteration
        closeTurnsLeft = options.closesPerIteration
        if !deferredCloses.isEmpty { closeDeferredSockets(all: false) }
        runReadyList()
        for hook in flushHooks { hook() }
        let ready = retryingInterrupts {
            Int(pw_epoll_wait(epollFD, events, Int32(options.eventsPerWait), waitTimeout()))
        }
        currentTime = MonotonicClock.milliseconds()
        if ready < 0 {
            logger.critical("epoll_wait failed", metadata: ["error": "\(SystemError("epoll_wait"))"])
            return
        }
        for index in 0..<ready {
            dispatch(mask: pw_event_mask(events, Int32(index)), data: pw_event_data(events, Int32(index)))
        }
        if ownTasksPending {
            ownTasksPending = false
            runTasks()
        }
        fireTimers()
    }

    private func dispatch(mask: UInt32, data: UInt64) {
        if data == Self.wakeUpToken {
            var value: UInt64 = 0
            _ = retryingInterrupts { Glibc.read(wakeUpFD, &value, 8) }
            runTasks()
            return
        }
        let slot = Int(truncatingIfNeeded: data & 0xFFFF_FFFF)
        let id = UInt32(truncatingIfNeeded: data >> 32)
        // A callback earlier in this batch may have closed the descriptor, and its slot may
        // even hold a new registration already: the id tells.
        guard slot < registrations.count, let target = registrations[slot], target.registrationID == id else { return }
        target.handleEvents(IOEvents(rawValue: mask))
    }

    private func waitTimeout() -> Int32 {
        // Tasks from other threads need no check here: handing one over writes the wake-up
        // descriptor (unless a write is already pending), so the wait returns at once. Only
        // the loop's own hand-overs, which write nothing, must keep it from sleeping.
        if !readyList.isEmpty || ownTasksPending || !deferredCloses.isEmpty { return 0 }
        guard let ticks = timers.ticksUntilNextSlot() else { return -1 }
        let due = (timers.currentTick + ticks) * Self.tickMilliseconds
        return Int32(clamping: max(0, due - MonotonicClock.milliseconds()))
    }

    /// Leaves the loop holding nothing: whatever it kept (tasks, timers, hooks, registered
    /// objects) may hold the loop in turn, and a stopped loop that kept it would never be freed.
    private func closeEverything() {
        runTasks()
        for case let registered? in registrations {
            registered.loopWillClose()
        }
        closeDeferredSockets(all: true)
        // Tasks handed over since the last run (some by the shutdown itself) will never run,
        // nor will any handed over later: drop them (outside the lock, since dropping a
        // closure may free objects whose deinit hands over a task of its own).
        _ = inbox.withLock { $0.take(closing: true) }
        // Anything still registered was registered during the shutdown; the loop lets it go.
        registrations.removeAll()
        freeSlots.removeAll()
        readyList.removeAll()
        spareReadyList.removeAll()
        // Hooks and timers may hold objects that hold this loop: let them all go.
        flushHooks.removeAll()
        loopLocals.removeAll()
        timers = TimerWheel(startTick: now / Self.tickMilliseconds)
    }

    // MARK: Registration

    /// Watches `fd` for `events` (edge-triggered) and calls `selectable.handleEvents` when
    /// it is ready. The loop does not take ownership of the descriptor.
    public func register(_ selectable: Selectable, fd: Int32, events: IOEvents) throws {
        precondition(fd >= 0, "invalid descriptor")
        let slot = freeSlots.popLast() ?? UInt32(registrations.count)
        selectable.fd = fd
        selectable.slot = slot
        selectable.registrationID = nextRegistrationID
        nextRegistrationID = nextRegistrationID == UInt32.max ? 1 : nextRegistrationID + 1
        guard pw_epoll_ctl(epollFD, pw_EPOLL_CTL_ADD, fd, events.rawValue | pw_EPOLLET, Self.eventData(of: selectable)) == 0 else {
            if Int(slot) < registrations.count { freeSlots.append(slot) }
            selectable.fd = -1
            selectable.registrationID = 0
            throw SystemError("epoll_ctl(ADD)")
        }
        if Int(slot) == registrations.count {
            registrations.append(selectable)
        } else {
            registrations[Int(slot)] = selectable
        }
    }

    /// What epoll hands back with an event: the slot, and the registration's id, which tells
    /// a stale event (for an object that was in the slot before) from a current one.
    private static func eventData(of selectable: Selectable) -> UInt64 {
        UInt64(selectable.slot) | UInt64(selectable.registrationID) << 32
    }

    /// Changes the events watched for a registered descriptor.
    public func modify(_ selectable: Selectable, events: IOEvents) throws {
        guard pw_epoll_ctl(epollFD, pw_EPOLL_CTL_MOD, selectable.fd, events.rawValue | pw_EPOLLET, Self.eventData(of: selectable)) == 0 else {
            throw SystemError("epoll_ctl(MOD)")
        }
    }

    /// Stops watching a descriptor; it stays open.
    public func deregister(_ selectable: Selectable) {
        guard selectable.fd >= 0 else { return }
        _ = pw_epoll_ctl(epollFD, pw_EPOLL_CTL_DEL, selectable.fd, 0, 0)
        forget(selectable)
    }

    /// Drops the loop's reference without telling epoll: closing a descriptor removes it
    /// from epoll already, so sockets that are about to be closed skip the system call.
    func forget(_ selectable: Selectable) {
        let slot = Int(selectable.slot)
        if selectable.fd >= 0, slot < registrations.count, registrations[slot] === selectable {
            registrations[slot] = nil
            freeSlots.append(selectable.slot)
        }
        selectable.fd = -1
        selectable.registrationID = 0
    }

    /// Slots in the registration table, used or free: for tests.
    var registrationTableSize: Int { registrations.count }

    /// Calls `body` for everything registered on this loop (e.g. to say goodbye to every
    /// connection at shutdown). Safe against `body` closing what it is given.
    public func forEachRegistration(_ body: (Selectable) -> Void) {
        let snapshot = registrations
        for case let registered? in snapshot where registered.fd >= 0 {
            body(registered)
        }
    }

    /// Points a registration's events at another object, which takes over its descriptor,
    /// slot and id (see `TCPConnection.handOver`).
    func replaceRegistration(of registered: Selectable, with successor: Selectable) {
        successor.fd = registered.fd
        successor.slot = registered.slot
        successor.registrationID = registered.registrationID
        registrations[Int(registered.slot)] = successor
    }

    /// Calls `selectable.handleEvents(.readable)` again on the next iteration, without
    /// waiting: for a descriptor that still had input when it used up its share.
    public func markReady(_ selectable: Selectable) {
        guard !selectable.isOnReadyList else { return }
        selectable.isOnReadyList = true
        readyList.append(selectable)
    }

    /// Takes one of this iteration's turns for handshake work (see
    /// ``Options/handshakesPerIteration``); false when they are used up. A connection refused
    /// a turn defers its work with ``markReady(_:)`` (keeping the events it was given: the
    /// ready list reports only `.readable`), and so waits behind those deferred before it.
    public func takeHandshakeTurn() -> Bool {
        guard handshakeTurnsLeft > 0 else {
            handshakeTurnsDeferred += 1
            return false
        }
        handshakeTurnsLeft -= 1
        return true
    }

    /// Closes a connection's socket, which the loop has forgotten already (`forget(_:)`): now
    /// while this iteration has close turns left, otherwise at the start of a later one (see
    /// ``Options-swift.struct/closesPerIteration``). Until then its events find no
    /// registration, and its number cannot be given to a new descriptor.
    func closeSocket(_ fd: Int32) {
        guard closeTurnsLeft > 0 else {
            deferredCloses.append(fd)
            closesDeferred += 1
            return
        }
        closeTurnsLeft -= 1
        closeDescriptor(fd)
    }

    /// Closes the sockets that waited, oldest first: this iteration's turns' worth, or `all`.
    private func closeDeferredSockets(all: Bool) {
        let count = all ? deferredCloses.count : min(deferredCloses.count, max(0, closeTurnsLeft))
        for fd in deferredCloses[..<count] { closeDescriptor(fd) }
        closeTurnsLeft -= count
        deferredCloses.removeFirst(count)
    }

    private func runReadyList() {
        guard !readyList.isEmpty else { return }
        // What handlers mark ready now waits for the next pass, in the other list.
        swap(&readyList, &spareReadyList)
        for selectable in spareReadyList {
            selectable.isOnReadyList = false
            if selectable.fd >= 0 { selectable.handleEvents(.readable) }
        }
        spareReadyList.removeAll(keepingCapacity: true)
    }

    /// Runs `hook` once per iteration, just before the loop waits for events: the place
    /// where output batched during the iteration is written. Hooks are dropped when the loop
    /// shuts down.
    public func addFlushHook(_ hook: @escaping () -> Void) {
        flushHooks.append(hook)
    }

    /// The loop's one instance of `T`, made by `make` on first use: for state that a layer
    /// above shares among the connections of one loop (buffers, budgets). Call it on the loop's
    /// thread. The loop lets go of these objects when it shuts down.
    public func loopLocal<T: AnyObject>(_ type: T.Type, orMake make: () -> T) -> T {
        let key = ObjectIdentifier(type)
        if let existing = loopLocals[key] as? T { return existing }
        let made = make()
        loopLocals[key] = made
        return made
    }

    // MARK: Timers

    /// What a timer does when it comes due.
    enum TimerAction {
        case run(() -> Void)
        case notify(Selectable)
    }

    /// Calls `body` on the loop's thread after `milliseconds` (rounded up to the next tick).
    @discardableResult
    public func schedule(afterMilliseconds milliseconds: Int64, _ body: @escaping () -> Void) -> TimerHandle {
        timers.schedule(at: dueTick(afterMilliseconds: milliseconds), .run(body))
    }

    /// Calls `selectable.timerFired()` after `milliseconds`; unlike a closure, allocates nothing.
    @discardableResult
    public func scheduleTimer(for selectable: Selectable, afterMilliseconds milliseconds: Int64) -> TimerHandle {
        timers.schedule(at: dueTick(afterMilliseconds: milliseconds), .notify(selectable))
    }

    private func dueTick(afterMilliseconds milliseconds: Int64) -> Int64 {
        (MonotonicClock.milliseconds() + max(0, milliseconds) + Self.tickMilliseconds - 1) / Self.tickMilliseconds
    }

    /// Cancels a timer; returns false when it already fired or was cancelled.
    @discardableResult
    public func cancel(_ timer: TimerHandle) -> Bool {
        timers.cancel(timer)
    }

    /// Number of scheduled timers.
    public var timerCount: Int { timers.count }

    private func fireTimers() {
        let tick = now / Self.tickMilliseconds
        while let action = timers.popDue(upTo: tick) {
            switch action {
            case .run(let body): body()
            case .notify(let selectable): selectable.timerFired()
            }
        }
    }

    // MARK: Cross-thread tasks

    private func wake() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = retryingInterrupts { Glibc.write(wakeUpFD, &one, 8) }
        }
    }

    /// Runs the tasks other threads handed over (called when the wake-up descriptor fires).
    func runTasks() {
        wakePending.store(false, ordering: .releasing)
        let pending = inbox.withLock { $0.take(closing: false) }
        for task in pending { task() }
    }

    /// The tasks handed over by other threads, and whether the loop still takes them.
    private enum Inbox {
        case open([@Sendable () -> Void])
        /// The loop has shut down. A task kept now would never run, and would keep what it
        /// captures (often objects that hold the loop) alive with the loop.
        case closed

        var isEmpty: Bool {
            guard case .open(let tasks) = self else { return true }
            return tasks.isEmpty
        }

        /// Adds `task`; false when the inbox is closed.
        mutating func add(_ task: @escaping @Sendable () -> Void) -> Bool {
            guard case .open(var tasks) = self else { return false }
            // Let go of the enum's copy first, so that appending does not copy the array.
            self = .closed
            tasks.append(task)
            self = .open(tasks)
            return true
        }

        /// Takes the waiting tasks; the inbox stays open unless `closing`.
        mutating func take(closing: Bool) -> [@Sendable () -> Void] {
            guard case .open(let tasks) = self else { return [] }
            self = closing ? .closed : .open([])
            return tasks
        }
    }
}
