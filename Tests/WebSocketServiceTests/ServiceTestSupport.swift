import Dispatch
import Reactor
import Synchronization
import TestSupport
import WebSocket

/// What a recording client saw.
final class ClientRecord: Sendable {
    let opened = Atomic<Bool>(false)
    let received = Mutex<[String]>([])
    let closeCode = Mutex<CloseCode?>(nil)
}

/// A client that keeps what it receives and answers the server's close (the library does
/// that by itself); it never closes on its own.
final class RecordingClient: WebSocket, @unchecked Sendable {
    let record: ClientRecord

    init(context: WebSocketContext, record: ClientRecord) {
        self.record = record
        super.init(context: context)
    }

    override func didOpen() { record.opened.store(true, ordering: .releasing) }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        let text = message.utf8String
        record.received.withLock { $0.append(text) }
    }

    override func didClose(code: CloseCode, reason: String) {
        record.closeCode.withLock { $0 = code }
    }
}

/// Connects a `RecordingClient` to `path` on `port` from `thread`'s loop.
func connectClient(on thread: LoopThread, port: Int, path: String) throws -> ClientRecord {
    let record = ClientRecord()
    // The server's loops start inside the service's `run()`, on the cooperative pool, which
    // other suites may keep busy for a while: the handshake may wait that long.
    var configuration = WebSocketConfiguration()
    configuration.handshakeTimeoutMilliseconds = 120_000
    let patient = configuration
    try thread.sync {
        let socket = RecordingClient(context: WebSocketContext(loop: thread.loop, role: .client, configuration: patient), record: record)
        try socket.connect(to: WebSocketURL("ws://127.0.0.1:\(port)\(path)"))
    }
    return record
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass, without blocking a thread.
/// The waits are long because Swift Testing runs the synchronous tests of other suites on
/// the same small cooperative pool: on a loaded two-core machine they can hold it for tens of
/// seconds, and an asynchronous test makes no progress meanwhile (correctness, not speed,
/// is what these tests check).
func eventually(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Runs blocking socket calls on a thread of their own: blocking one of the concurrency
/// pool's few threads (two on a two-core machine) could starve the service under test.
func blocking<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        DispatchQueue(label: "pushwave.test.blocking").async { continuation.resume(returning: body()) }
    }
}
