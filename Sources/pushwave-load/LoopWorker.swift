import TLS
import Histogram
import Reactor
import Synchronization
@_spi(Internals) import WebSocket

#if canImport(Glibc)
import Glibc
#endif

/// Counters the main thread reads while the loops run.
final class SharedState: Sendable {
    /// Connections that opened or failed for good.
    let settled = Atomic<Int>(0)
    let opened = Atomic<Int>(0)
    /// Loops whose publishers have sent everything they will send.
    let publishingDone = Atomic<Int>(0)
    /// `connect --measure-close`: connections whose closing has begun and not ended.
    let closing = Atomic<Int>(0)
}

/// One event loop's share of the run: its connections, its counters and its histograms.
///
/// Confined to the loop's thread after creation, except for the atomics. Nothing on the
/// message path locks or allocates: counters are plain fields merged when the run ends.
final class LoopWorker: @unchecked Sendable {
    enum Target {
        case echo(Int)
        case subscriber(Int)
        case publisher(Int)
        case idle(Int)
        case httpPublisher(Int)
    }

    let plan: RunPlan
    let loop: EventLoop
    let shared: SharedState
    let context: WebSocketContext
    let serverAddress: SocketAddress

    // Message layout, fixed for the run. -----------------------------------------------------
    let kind: MessageKind
    /// One payload, reused for every message sent from this loop: the header is rewritten
    /// in place, the pattern after it never changes.
    let payload: UnsafeMutableRawBufferPointer
    private let payloadBase: UnsafeMutableRawPointer
    /// Echo: bytes at the start of the payload that carry the sequence number.
    let headerSize: Int
    /// Raw echo: the frame as sent (header, key, masked payload), and room to rebuild one
    /// for comparing with what comes back.
    let rawFrameSize: Int
    private let rawHeader: [UInt8]
    let expectedFrame: UnsafeMutableRawPointer
    let rawUpgradeRequest: [UInt8]
    let sendBufferLimit: Int
    /// Publish over HTTP: the API's address and the head of every request (body follows).
    let httpAddress: SocketAddress?
    let requestHead: UnsafeRawBufferPointer

    // Counters and histograms (loop thread). -------------------------------------------------
    @exclusivity(unchecked) var latency = LatencyRecorder()
    @exclusivity(unchecked) var connectLatency = makeLatencyHistogram()
    /// Inside the measuring window.
    @exclusivity(unchecked) var messages = 0
    @exclusivity(unchecked) var bytes = 0
    /// Every echo or in-order delivery.
    @exclusivity(unchecked) var received = 0
    private(set) var errors = ErrorCounts()
    private(set) var errorDetails: [String: Int] = [:]

    // Timeline (loop thread). ----------------------------------------------------------------
    private(set) var t0: Int64 = 0
    /// Echo: a round trip counts when its echo arrives in [measureStart, measureEnd);
    /// push: a delivery counts when its message was due to be published in that window.
    @exclusivity(unchecked) var measureStart = Int64.max
    @exclusivity(unchecked) var measureEnd = Int64.max
    /// No message is sent at or after this time.
    @exclusivity(unchecked) var sendUntil = Int64.min
    /// Echo without `--rate`: each echo sends the next message.
    @exclusivity(unchecked) var closedLoop = false
    /// The run is over: closes are ours, nothing counts any more.
    private(set) var finished = false

    /// One clock reading per read, not per message: the time is taken for the first message
    /// of a read and reused for the others. A read is recognised as new when the connection
    /// differs from the last one's, or the loop went round (its flush hook clears `stampValid`).
    @exclusivity(unchecked) private var stamp: Int64 = 0
    @exclusivity(unchecked) private var stampOwner: ObjectIdentifier?
    @exclusivity(unchecked) var stampValid = false

    // Connections. ---------------------------------------------------------------------------
    private var targets: [Target] = []
    private var nextTarget = 0
    private var inProgress = 0
    private var startingConnections = false
    private var connectedCount = 0
    private var connectPacer: TimerHandle?
    private var echoSockets: [EchoSocket] = []
    private var rawSockets: [RawEchoSocket] = []
    private var subscribers: [Subscriber] = []
    private var publishers: [Publisher] = []
    private var idleSockets: [IdleSocket] = []
    private var httpPublishers: [HTTPPublisher] = []

    // Open loop. -----------------------------------------------------------------------------
    private var pacer: Pacer?
    private var activeEcho: [EchoSocket] = []
    private var activeRaw: [RawEchoSocket] = []
    private var sendIndex = 0
    private var intervalNanoseconds = 0.0

    // Push. ----------------------------------------------------------------------------------
    private(set) var published = 0
    private(set) var firstPublish = Int64.max
    private(set) var lastDelivery = Int64.min
    private var publishingComplete = false
    /// In-order deliveries, readable from the main thread while waiting for stragglers.
    let deliveredCount = Atomic<Int>(0)

    // HTTP publishing. -----------------------------------------------------------------------
    /// Answers by status code (200 included).
    private(set) var statuses: [Int: Int] = [:]
    /// Publish with `--count`: answers still owed by this loop's connections.
    private var pendingAnswers = 0

    // Measured closing (connect --measure-close). -------------------------------------------
    private var closesStarted = 0
    private var cleanCloses = 0
    /// When this loop sent its first close frame, and when its last clean close ended.
    private var closeStart = Int64.max
    private var lastCleanClose = Int64.min

    /// Handshakes in flight per loop while connecting for echo and push (connect mode is
    /// paced by `--connect-rate` instead).
    private static let pendingLimit = 128

    init(plan: RunPlan, loop: EventLoop, index: Int, shared: SharedState) throws {
        self.plan = plan
        self.loop = loop
        self.shared = shared
        context = WebSocketContext(loop: loop, role: .client, configuration: plan.webSocketConfiguration)
        serverAddress = try plan.url.socketAddress()
        kind = plan.kind
        sendBufferLimit = plan.webSocketConfiguration.maxBufferedAmount
        httpAddress = try plan.httpTarget?.socketAddress()
        let head = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, plan.httpTarget?.requestHead.count ?? 0), alignment: 8)
        if let bytes = plan.httpTarget?.requestHead { head.copyBytes(from: bytes) }
        requestHead = UnsafeRawBufferPointer(rebasing: head[0..<(plan.httpTarget?.requestHead.count ?? 0)])

        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(plan.size, 1), alignment: 16)
        payloadBase = storage.baseAddress.unsafelyUnwrapped
        payload = UnsafeMutableRawBufferPointer(start: payloadBase, count: plan.size)
        headerSize = plan.mode == .push ? RunPlan.pushHeaderSize : plan.echoHeaderSize
        fillPattern(storage, from: 0, style: plan.payloadStyle)

        var header: [UInt8] = [0x80 | (plan.binary ? 2 : 1)]
        if plan.size < 126 {
            header.append(0x80 | UInt8(plan.size))
        } else if plan.size <= 0xFFFF {
            header += [0x80 | 126, UInt8(plan.size >> 8), UInt8(plan.size & 0xFF)]
        } else {
            header.append(0x80 | 127)
            header += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(plan.size) >> (UInt64($0) * 8)) }
        }
        rawHeader = header
        rawFrameSize = header.count + 4 + plan.size
        expectedFrame = .allocate(byteCount: rawFrameSize, alignment: 16)
        let host = plan.url.port == 80 ? plan.url.host : "\(plan.url.host):\(plan.url.port)"
        rawUpgradeRequest = Array(
            ("GET \(plan.url.path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)

        // This loop's connections: every `threads`-th of the process's share.
        let loops = plan.threads
        for (position, id) in plan.localConnectionIDs.enumerated() where position % loops == index {
            switch plan.mode {
            case .echo: targets.append(.echo(id))
            case .push: targets.append(.subscriber(id))
            case .connect: targets.append(.idle(id))
            case .publish: targets.append(.httpPublisher(id))
            }
        }
        for (position, id) in plan.localPublisherIDs.enumerated() where position % loops == index {
            targets.append(.publisher(id))
        }
    }

    deinit {
        latency.deallocate()
        payloadBase.deallocate()
        expectedFrame.deallocate()
        UnsafeMutableRawPointer(mutating: requestHead.baseAddress)?.deallocate()
    }

    var connectionTargets: Int { targets.count }

    // MARK: Errors

    @inline(__always)
    func count(_ errorClass: ErrorClass, _ amount: Int = 1) {
        guard !finished else { return }
        errors[errorClass] += amount
    }

    func count(_ errorClass: ErrorClass, detail: String) {
        guard !finished else { return }
        errors[errorClass] += 1
        let key = "\(errorClass.name): \(detail)"
        if errorDetails[key] != nil || errorDetails.count < 20 { errorDetails[key, default: 0] += 1 }
    }

    /// A WebSocket connection ended; decides whether that was a failure and of which kind.
    func linkClosed(was state: LinkState, code: CloseCode, reason: String, startedAt: Int64) {
        switch state {
        case .connecting:
            count(Self.isConnectFailure(reason) ? .connectFailed : .handshakeFailed, detail: reason.isEmpty ? "connection closed" : reason)
            settled(opened: false, startedAt: startedAt)
        case .open:
            let protocolCodes: Set<UInt16> = [1002, 1003, 1007, 1009, 1010]
            let detail = "close \(code.rawValue)\(reason.isEmpty ? "" : " " + reason)"
            count(protocolCodes.contains(code.rawValue) ? .protocolError : .closedEarly, detail: detail)
        case .closingByUs, .closed:
            break
        }
    }

    /// Socket errors that only a TCP connect produces (the library reports them as
    /// "socket: ... (errno N)").
    private static func isConnectFailure(_ reason: String) -> Bool {
        guard reason.hasPrefix("socket"), let open = reason.lastIndex(of: "("), reason.hasSuffix(")") else { return false }
        let words = reason[reason.index(after: open)..<reason.index(before: reason.endIndex)].split(separator: " ")
        guard words.count == 2, words[0] == "errno", let code = Int32(words[1]) else { return false }
        return [ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL, EADDRINUSE, EMFILE, ENFILE].contains(code)
    }

    // MARK: Connecting

    /// The time the bytes being handled by `connection` were read.
    @inline(__always)
    func readTime(_ connection: AnyObject) -> Int64 {
        let owner = ObjectIdentifier(connection)
        if !stampValid || stampOwner != owner {
            stamp = MonotonicClock.nanoseconds()
            stampOwner = owner
            stampValid = true
        }
        return stamp
    }

    /// Starts connecting (on the loop's thread).
    func beginSetup() {
        loop.addFlushHook { [unowned(unsafe) self] in stampValid = false }
        if plan.mode == .connect, plan.connectInFlight == nil {
            let start = MonotonicClock.nanoseconds()
            // This loop's share of the rate over all loops and processes.
            let share = Double(targets.count) / Double(max(1, plan.connections))
            pace(start: start, rate: max(0.001, plan.connectRate * share))
        } else {
            startMoreConnections()
        }
    }

    /// Connect mode: opens the connections due by now at `rate` per second, every tick.
    private func pace(start: Int64, rate: Double) {
        let elapsed = Double(MonotonicClock.nanoseconds() - start) / 1e9
        let due = min(targets.count, Int(elapsed * rate) + 1)
        while nextTarget < due {
            open(targets[nextTarget])
            nextTarget += 1
        }
        guard nextTarget < targets.count else { return }
        connectPacer = loop.schedule(afterMilliseconds: EventLoop.tickMilliseconds) { [unowned self] in
            connectPacer = nil
            pace(start: start, rate: rate)
        }
    }

    /// Keeps up to `pendingLimit` handshakes in flight until every target is tried.
    private func startMoreConnections() {
        guard !startingConnections, plan.mode != .connect || plan.connectInFlight != nil else { return }
        startingConnections = true
        let limit = plan.connectInFlight ?? Self.pendingLimit
        while inProgress < limit, nextTarget < targets.count, !finished {
            let target = targets[nextTarget]
            nextTarget += 1
            open(target)
        }
        startingConnections = false
    }

    private func open(_ target: Target) {
        inProgress += 1
        let startedAt = MonotonicClock.nanoseconds()
        do {
            switch target {
            case .echo(let id):
                if plan.rawEcho {
                    let socket = RawEchoSocket(worker: self, globalID: id)
                    rawSockets.append(socket)
                    try socket.start(from: plan.source(for: id))
                } else {
                    let socket = EchoSocket(worker: self, globalID: id)
                    echoSockets.append(socket)
                    try socket.connect(to: plan.url, from: plan.source(for: id), headers: plan.upgradeHeaders, tls: plan.tls)
                }
            case .subscriber(let id):
                let socket = Subscriber(worker: self)
                subscribers.append(socket)
                try socket.connect(
                    to: plan.envelope?.url ?? plan.url, from: plan.source(for: id), headers: plan.upgradeHeaders, tls: plan.tls)
            case .publisher(let id) where httpAddress != nil:
                let socket = HTTPPublisher(worker: self, publisherID: id, total: plan.pushShare(of: id))
                httpPublishers.append(socket)
                try socket.start(to: httpAddress.unsafelyUnwrapped, from: plan.source(for: plan.subscribers + id))
            case .publisher(let id):
                let socket = Publisher(worker: self, publisherID: id)
                publishers.append(socket)
                try socket.connect(
                    to: plan.publishURL ?? plan.url, from: plan.source(for: plan.subscribers + id), headers: plan.upgradeHeaders,
                    tls: plan.tls)
            case .idle(let id):
                let socket = IdleSocket(worker: self)
                idleSockets.append(socket)
                try socket.connect(to: plan.url, from: plan.source(for: id), headers: plan.upgradeHeaders, tls: plan.tls)
            case .httpPublisher(let id):
                let socket = HTTPPublisher(worker: self, publisherID: id, total: plan.publishShare(of: id))
                httpPublishers.append(socket)
                try socket.start(to: httpAddress.unsafelyUnwrapped, from: plan.source(for: id))
            }
        } catch {
            // Never got as far as the loop: no callback will come.
            switch target {
            case .echo: if plan.rawEcho { rawSockets.last?.state = .closed } else { echoSockets.last?.state = .closed }
            case .subscriber: subscribers.last?.state = .closed
            case .publisher: if httpAddress != nil { httpPublishers.last?.state = .closed } else { publishers.last?.state = .closed }
            case .idle: idleSockets.last?.state = .closed
            case .httpPublisher: httpPublishers.last?.state = .closed
            }
            count(.connectFailed, detail: "\(error)")
            settled(opened: false, startedAt: startedAt)
        }
    }

    /// A connection opened, or failed before opening.
    func settled(opened: Bool, startedAt: Int64) {
        inProgress -= 1
        if opened {
            connectedCount += 1
            connectLatency.record(UInt64(max(1, MonotonicClock.nanoseconds() - startedAt)))
            shared.opened.add(1, ordering: .relaxed)
        }
        shared.settled.add(1, ordering: .releasing)
        // During `startMoreConnections` (a connect that failed at once) its loop goes on.
        if !startingConnections { startMoreConnections() }
    }

    // MARK: Running

    /// Sets the run's time origin and measuring window. Every loop is prepared before any
    /// starts, so that no loop sees traffic from another before it knows the window.
    func prepare(t0: Int64) {
        self.t0 = t0
        switch plan.mode {
        case .echo:
            measureStart = t0 + nanoseconds(seconds: plan.warmup)
            measureEnd = measureStart + nanoseconds(seconds: plan.duration)
            sendUntil = measureEnd
        case .push:
            if plan.messages != nil {
                measureStart = t0
                measureEnd = .max
            } else {
                measureStart = t0 + nanoseconds(seconds: plan.warmup)
                measureEnd = measureStart + nanoseconds(seconds: plan.duration)
            }
            sendUntil = .max
            for subscriber in subscribers where subscriber.state == .open { subscriber.expectsAll = true }
        case .publish:
            measureStart = t0
            measureEnd = plan.messages == nil ? t0 + nanoseconds(seconds: plan.duration) : .max
            sendUntil = measureEnd
        case .connect:
            break
        }
    }

    /// Starts the traffic (on the loop's thread), after `prepare` ran on every loop.
    func start() {
        let now = MonotonicClock.nanoseconds()
        switch plan.mode {
        case .echo:
            activeEcho = echoSockets.filter { $0.state == .open }
            activeRaw = rawSockets.filter { $0.state == .open }
            if let rate = plan.rate {
                let loopRate = rate * Double(targets.count) / Double(max(1, plan.connections))
                intervalNanoseconds = 1e9 / max(loopRate, 1e-9)
                startPacer { $0.sendDue() }
            } else {
                closedLoop = true
                for socket in activeEcho {
                    for _ in 0..<plan.pipeline { socket.sendMessage(intended: now) }
                }
                for socket in activeRaw {
                    for _ in 0..<plan.pipeline { socket.sendMessage(intended: now) }
                }
            }
        case .push:
            if publishers.isEmpty && httpPublishers.isEmpty {
                markPublishingComplete()
            } else {
                startPacer { $0.publishDue() }
            }
        case .publish:
            closedLoop = true
            firstPublish = now
            let open = httpPublishers.filter { $0.state == .open }
            pendingAnswers = plan.messages == nil ? 0 : open.reduce(0) { $0 + $1.total }
            if plan.messages != nil, pendingAnswers == 0 { markPublishingComplete() }
            let body = UnsafeRawBufferPointer(payload)
            for publisher in open {
                for _ in 0..<min(plan.pipeline, publisher.total) {
                    if !publisher.publish(body, sentAt: now) { count(.sendDropped) }
                }
            }
        case .connect:
            break
        }
    }

    private func startPacer(_ tick: @escaping @Sendable (LoopWorker) -> Void) {
        let pacer = Pacer(loop: loop)
        self.pacer = pacer
        pacer.tick = { [unowned self, unowned pacer] in
            pacer.pending.store(false, ordering: .releasing)
            tick(self)
        }
        tick(self)
        pacer.start()
    }

    /// Open-loop echo: sends every message due by now, each stamped with its intended time
    /// (so a late send shows up as latency, not as a missing sample).
    func sendDue() {
        guard !finished else { return }
        let now = MonotonicClock.nanoseconds()
        let count = plan.rawEcho ? activeRaw.count : activeEcho.count
        var next = Int64.max
        while count > 0 {
            let intended = t0 + Int64(Double(sendIndex) * intervalNanoseconds)
            if intended >= sendUntil { break }
            if intended > now {
                next = intended
                break
            }
            if plan.rawEcho {
                activeRaw[sendIndex % count].sendMessage(intended: intended)
            } else {
                activeEcho[sendIndex % count].sendMessage(intended: intended)
            }
            sendIndex += 1
        }
        pacer?.nextDue.store(next, ordering: .releasing)
    }

    /// Push: publishes every message due by now, from each of this loop's publishers.
    func publishDue() {
        guard !finished, !publishingComplete else { return }
        let now = MonotonicClock.nanoseconds()
        var next = Int64.max
        for publisher in publishers where publisher.state == .open {
            next = min(next, sendDue(now: now, publisherID: publisher.publisherID, total: publisher.total, sequence: { publisher.sequence }) { _ in
                switch publisher.send(UnsafeRawBufferPointer(payload), kind: kind) {
                case .sent: published += 1
                case .dropped: count(.sendDropped)
                case .closed: break
                }
                publisher.sequence += 1
            })
        }
        for publisher in httpPublishers where publisher.state == .open {
            next = min(next, sendDue(now: now, publisherID: publisher.publisherID, total: publisher.total, sequence: { publisher.sequence }) { intended in
                // A publish that goes out advances the sequence itself.
                if publisher.publish(UnsafeRawBufferPointer(payload), sentAt: intended) {
                    published += 1
                } else {
                    // Its sequence number is skipped all the same: the subscribers count it lost.
                    count(.sendDropped)
                    publisher.sequence += 1
                }
            })
        }
        if next == .max { markPublishingComplete() }
        pacer?.nextDue.store(next, ordering: .releasing)
    }

    /// Sends, through `send`, each message of one publisher that is due by `now`, its payload
    /// stamped with the publisher, the sequence number and the intended send time; returns
    /// when the next one is due (`.max` when all are sent). `send` advances the publisher's
    /// sequence, which `sequence` reads.
    private func sendDue(
        now: Int64, publisherID: Int, total: Int, sequence: () -> Int, _ send: (_ intended: Int64) -> Void
    ) -> Int64 {
        while case let current = sequence(), current < total {
            let message = current * plan.publishers + publisherID
            let intended = t0 + plan.pushOffset(of: message)
            if intended > now { return intended }
            Hex.store(UInt64(publisherID) << 48 | UInt64(current), at: payloadBase)
            Hex.store(UInt64(bitPattern: intended), at: payloadBase + 16)
            if firstPublish == .max { firstPublish = MonotonicClock.nanoseconds() }
            send(intended)
        }
        return .max
    }

    // MARK: HTTP answers

    /// An HTTP publisher's answer, in order. Publish mode counts 200s as its messages (with
    /// their latency) and sends the next request; any other status is an error, by status.
    @inline(__always)
    func recordAnswer(status: Int, sentAt: Int64, now: Int64, from publisher: HTTPPublisher) {
        guard !finished else { return }
        statuses[status, default: 0] &+= 1
        if status != 200 { count(.httpStatus, detail: "HTTP \(status)") }
        guard plan.mode == .publish else { return }
        if status == 200 {
            received &+= 1
            if now >= measureStart, now < measureEnd {
                messages &+= 1
                bytes &+= plan.size
                latency.record(now &- sentAt)
            }
        }
        lastDelivery = now
        if plan.messages != nil {
            pendingAnswers -= 1
            if pendingAnswers == 0 { markPublishingComplete() }
        }
        if closedLoop, now < sendUntil, publisher.sequence < publisher.total, !publisher.publish(UnsafeRawBufferPointer(payload), sentAt: now) {
            count(.sendDropped)
        }
    }

    /// An HTTP publisher stopped for good, owing `owing` answers (publish with `--count`
    /// then no longer waits for them).
    func publisherEnded(owing: Int) {
        guard plan.mode == .publish, plan.messages != nil, !finished, owing > 0, pendingAnswers > 0 else { return }
        pendingAnswers = max(0, pendingAnswers - owing)
        if pendingAnswers == 0 { markPublishingComplete() }
    }

    private func markPublishingComplete() {
        guard !publishingComplete else { return }
        publishingComplete = true
        shared.publishingDone.add(1, ordering: .releasing)
    }

    // MARK: The message path

    /// Whether an echo carries `value` and the loop's pattern, at the right size and type.
    @inline(__always)
    func isExpectedEcho(_ bytes: UnsafeRawBufferPointer, kind: MessageKind, value: UInt64) -> Bool {
        guard bytes.count == plan.size, kind == self.kind else { return false }
        guard let start = bytes.baseAddress else { return true }
        if headerSize > 0, !Hex.matches(value, start, count: headerSize) { return false }
        let rest = plan.size - headerSize
        return rest == 0 || memcmp(start + headerSize, payloadBase + headerSize, rest) == 0
    }

    @inline(__always)
    func recordRoundTrip(sentAt: Int64, now: Int64) {
        received &+= 1
        if now >= measureStart, now < measureEnd {
            messages &+= 1
            bytes &+= plan.size
            latency.record(now &- sentAt)
        }
    }

    /// Raw echo: one frame exactly as it goes on the wire (header, key, masked payload).
    @inline(__always)
    func buildRawFrame(value: UInt64, key: UInt32, into destination: UnsafeMutableRawPointer) {
        let payloadStart = payloadBase
        if headerSize > 0 { Hex.store(value, at: payloadStart, count: headerSize) }
        rawHeader.withUnsafeBytes { header in
            destination.copyMemory(from: header.baseAddress.unsafelyUnwrapped, byteCount: header.count)
            destination.storeBytes(of: key.littleEndian, toByteOffset: header.count, as: UInt32.self)
            Masking.mask(from: payloadStart, to: destination + header.count + 4, count: plan.size, key: key)
        }
    }

    /// Push: checks a delivery and updates its subscriber's view of the publisher.
    @inline(__always)
    func deliver(_ message: UnsafeRawBufferPointer, kind: MessageKind, to subscriber: Subscriber, now: Int64) {
        guard message.count == plan.size, kind == self.kind, let start = message.baseAddress,
            let tagged = Hex.load(from: start), let stamp = Hex.load(from: start + 16),
            plan.size == RunPlan.pushHeaderSize
                || memcmp(start + RunPlan.pushHeaderSize, payloadBase + RunPlan.pushHeaderSize, plan.size - RunPlan.pushHeaderSize) == 0
        else {
            count(.mismatch)
            return
        }
        let publisher = Int(tagged >> 48)
        let sequence = tagged & 0xFFFF_FFFF_FFFF
        guard publisher < plan.publishers else {
            count(.mismatch)
            return
        }
        let expected = subscriber.nextSequence[publisher]
        guard sequence >= expected else {
            count(.outOfOrder)
            return
        }
        // A gap is counted as lost at the end (expected minus delivered).
        subscriber.nextSequence[publisher] = sequence &+ 1
        subscriber.delivered &+= 1
        received &+= 1
        deliveredCount.store(received, ordering: .relaxed)
        lastDelivery = now
        let intended = Int64(bitPattern: stamp)
        if intended >= measureStart, intended < measureEnd {
            messages &+= 1
            bytes &+= plan.size
            latency.record(now &- intended)
        }
    }

    /// Deliveries expected on this loop: every subscriber open when publishing started gets
    /// every message.
    var expectedDeliveries: Int {
        subscribers.reduce(0) { $0 + ($1.expectsAll ? plan.totalMessages : 0) }
    }

    // MARK: Measured closing

    /// `connect --measure-close`: sends the close frame of every open connection, at once.
    func beginMeasuredClose() {
        closeStart = MonotonicClock.nanoseconds()
        for socket in idleSockets where socket.state == .open {
            // Counted before the close frame goes: a failed write ends the connection at once.
            closesStarted += 1
            shared.closing.add(1, ordering: .relaxed)
            _ = socket.beginMeasuredClose()
        }
    }

    /// The closing's deadline: the connections still closing count as failed closes.
    func abandonMeasuredCloses() {
        for socket in idleSockets { socket.abandonMeasuredClose() }
    }

    /// A measured close ended, cleanly or not.
    func measuredCloseEnded(_ outcome: CloseOutcome) {
        shared.closing.subtract(1, ordering: .releasing)
        switch outcome {
        case .clean:
            cleanCloses += 1
            lastCleanClose = MonotonicClock.nanoseconds()
        case .wrongCode(let code):
            count(.closeFailed, detail: "the server answered with \(code.rawValue)")
        case .endedWithoutAnswer:
            count(.closeFailed, detail: "the connection ended without the server's close frame")
        case .unanswered:
            count(.closeFailed, detail: "no close frame from the server in time")
        case .answeredNotClosed(let code):
            count(.closeFailed, detail: "the server answered with \(code.rawValue) but did not close the connection in time")
        }
    }

    // MARK: Ending

    /// Stops sending and counting, and returns this loop's totals.
    func finish() -> RunTotals {
        sendUntil = .min
        closedLoop = false
        var totals = RunTotals()
        totals.connected = connectedCount
        totals.attempted = targets.count
        totals.messages = messages
        totals.bytes = bytes
        totals.received = received
        totals.latency = latency.histogram
        totals.connectLatency = connectLatency
        if plan.mode == .publish {
            totals.published = httpPublishers.reduce(0) { $0 + $1.sequence }
            totals.firstPublish = firstPublish
            totals.lastDelivery = lastDelivery
        }
        totals.statuses = statuses
        totals.closesStarted = closesStarted
        totals.cleanCloses = cleanCloses
        totals.closeStart = closeStart
        totals.lastCleanClose = lastCleanClose
        if plan.mode == .push {
            totals.published = published
            totals.firstPublish = firstPublish
            totals.lastDelivery = lastDelivery
            totals.expectedDeliveries = expectedDeliveries
            var lost = 0
            for subscriber in subscribers where subscriber.expectsAll {
                lost += max(0, plan.totalMessages - subscriber.delivered)
            }
            count(.lost, lost)
        }
        totals.errors = errors
        finished = true
        if let connectPacer { loop.cancel(connectPacer) }
        connectPacer = nil
        return totals
    }

    var details: [String: Int] { errorDetails }

    /// Stops the pacer thread, if any (from the main thread, after `finish`).
    func stopPacer() {
        pacer?.stop()
    }

    /// Closes every connection (closing handshake for WebSockets).
    func closeAll() {
        for socket in echoSockets { socket.finish() }
        for socket in rawSockets { socket.finish() }
        for socket in subscribers { socket.finish() }
        for socket in publishers { socket.finish() }
        for socket in idleSockets { socket.finish() }
        for socket in httpPublishers { socket.finish() }
    }

    /// Drops the connections (after the loop stopped), breaking their cycles with the worker.
    func releaseConnections() {
        echoSockets.removeAll()
        rawSockets.removeAll()
        subscribers.removeAll()
        publishers.removeAll()
        idleSockets.removeAll()
        httpPublishers.removeAll()
        activeEcho.removeAll()
        activeRaw.removeAll()
    }

    /// Progress while running: the counters so far (on the loop's thread).
    func snapshot() -> RunTotals {
        var totals = RunTotals()
        totals.connected = connectedCount
        totals.messages = messages
        totals.received = received
        totals.errors = errors
        totals.latency = latency.histogram
        totals.published = plan.mode == .publish ? httpPublishers.reduce(0) { $0 + $1.sequence } : published
        return totals
    }
}

/// Wakes a loop when its next open-loop message is due. The loop's own timers tick every
/// 10 ms, far too coarse for latency in microseconds, so a small thread sleeps until the
/// due time (`clock_nanosleep`, absolute) and hands the loop a task. Messages are stamped
/// with their intended time, so the cost of a late wake-up shows as latency.
final class Pacer: @unchecked Sendable {
    let loop: EventLoop
    /// When the loop next has something due; `Int64.max`: nothing.
    let nextDue = Atomic<Int64>(Int64.max)
    /// A wake-up task is queued and has not run yet.
    let pending = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// Set before `start`; runs on the loop.
    var tick: @Sendable () -> Void = {}
    private var thread: pthread_t?
    /// At most one wake-up per 50 µs: above ~20,000 messages/s per loop several go per wake.
    private static let minimumGap: Int64 = 50_000

    init(loop: EventLoop) {
        self.loop = loop
    }

    func start() {
        thread = startThread { [self] in run() }
    }

    private func run() {
        var lastWake: Int64 = 0
        let tick = self.tick
        while !stopped.load(ordering: .acquiring) {
            let due = nextDue.load(ordering: .acquiring)
            if due == .max {
                sleep(milliseconds: 1)
                continue
            }
            let target = max(due, lastWake + Self.minimumGap)
            // In slices of at most 10 ms, so that `stop` is never kept waiting long.
            let now = MonotonicClock.nanoseconds()
            if target - now > 10_000_000 {
                sleep(untilNanoseconds: now + 10_000_000)
                continue
            }
            sleep(untilNanoseconds: target)
            lastWake = target
            if !pending.exchange(true, ordering: .acquiringAndReleasing) {
                loop.execute(tick)
            }
        }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }
}
