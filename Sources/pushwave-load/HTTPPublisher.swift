import HTTP
import Reactor

#if canImport(Glibc)
import Glibc
#endif

/// A keep-alive HTTP/1.1 connection to the publish API: `POST` requests with the key and a
/// body, answers read in order with the package's response parser.
///
/// `publish` mode sends in closed loop (each answer sends the next request, `--pipeline`
/// requests in flight); `push` mode with an `http://` `--publish-url` sends on the
/// schedule, pipelining as far as the schedule asks, and leaves latency to the subscribers.
final class HTTPPublisher: TCPConnection, @unchecked Sendable {
    let worker: LoopWorker
    /// Push: the publisher's place in the schedule; publish: the connection's global id.
    let publisherID: Int
    /// Requests sent so far, and how many this connection sends in all (`Int.max`: until
    /// the run ends).
    @exclusivity(unchecked) var sequence = 0
    let total: Int
    @exclusivity(unchecked) var state = LinkState.connecting
    let startedAt = MonotonicClock.nanoseconds()
    /// Send times of the requests not answered yet (HTTP/1.1 answers come in order).
    @exclusivity(unchecked) private var inFlight: TimestampRing
    private var parser = HTTPResponseParser()
    /// Body bytes of the current answer still to skip; nil while a head is being read.
    @exclusivity(unchecked) private var bodyRemaining: Int?
    @exclusivity(unchecked) private var status = 0
    private var connectTimer: TimerHandle?

    init(worker: LoopWorker, publisherID: Int, total: Int) {
        self.worker = worker
        self.publisherID = publisherID
        self.total = total
        inFlight = TimestampRing(capacity: max(4, worker.plan.pipeline))
        super.init(loop: worker.loop)
    }

    deinit { inFlight.deallocate() }

    /// Requests sent and not answered.
    var unanswered: Int { inFlight.count }

    /// Requests this connection still owes the run: not sent yet, or not answered.
    var outstanding: Int { (total == .max ? 0 : total - sequence) + inFlight.count }

    func start(to address: SocketAddress, from source: SocketAddress?) throws {
        try connect(to: address, from: source)
        connectTimer = loop.schedule(afterMilliseconds: 10_000) { [unowned self] in
            connectTimer = nil
            if state == .connecting { reset() }
        }
    }

    override func connected() {
        if let connectTimer { loop.cancel(connectTimer) }
        connectTimer = nil
        state = .open
        worker.settled(opened: true, startedAt: startedAt)
    }

    /// Sends one publish of `body`; `sentAt` is when it left (publish) or was due (push).
    /// False when the connection is not open or its output is full.
    @inline(__always)
    func publish(_ body: UnsafeRawBufferPointer, sentAt: Int64) -> Bool {
        guard state == .open, bufferedAmount < worker.sendBufferLimit else { return false }
        let head = worker.requestHead
        write(count: head.count + body.count) { destination in
            destination.copyMemory(from: head.baseAddress.unsafelyUnwrapped, byteCount: head.count)
            if let start = body.baseAddress { (destination + head.count).copyMemory(from: start, byteCount: body.count) }
        }
        sequence &+= 1
        inFlight.push(sentAt)
        return true
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        let now = worker.readTime(self)
        var offset = 0
        while offset < bytes.count, state == .open {
            if let remaining = bodyRemaining {
                let take = min(remaining, bytes.count - offset)
                offset += take
                if take == remaining { answered(now) } else { bodyRemaining = remaining - take }
                continue
            }
            switch parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMore:
                return
            case .complete(let head, let consumed):
                offset += consumed
                // The API always frames its answers with Content-Length.
                guard let length = head.value("Content-Length").flatMap({ Int($0) }), length >= 0 else {
                    return broken("an answer without Content-Length")
                }
                status = head.status.code
                bodyRemaining = length
                if length == 0 { answered(now) }
            case .failed(let failure):
                return broken("a malformed answer (\(failure.code))")
            }
        }
    }

    /// The current answer is complete: its request's send time goes to the worker.
    private func answered(_ now: Int64) {
        bodyRemaining = nil
        guard inFlight.count > 0 else { return broken("an answer to no request") }
        worker.recordAnswer(status: status, sentAt: inFlight.pop(), now: now, from: self)
    }

    private func broken(_ detail: String) {
        worker.count(.protocolError, detail: detail)
        let owed = outstanding
        state = .closingByUs
        worker.publisherEnded(owing: owed)
        closeTransport()
    }

    override func closed(_ reason: CloseReason) {
        if let connectTimer { loop.cancel(connectTimer) }
        connectTimer = nil
        switch state {
        case .connecting:
            worker.count(.connectFailed, detail: "\(reason)")
            worker.settled(opened: false, startedAt: startedAt)
        case .open:
            worker.count(.closedEarly, detail: "\(reason)")
            worker.publisherEnded(owing: outstanding)
        case .closingByUs, .closed:
            break
        }
        state = .closed
    }

    func finish() {
        guard state == .open || state == .connecting else { return }
        state = .closingByUs
        closeTransport()
    }
}
