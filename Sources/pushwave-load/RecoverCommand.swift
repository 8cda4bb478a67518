import ArgumentParser
import Push
import Reactor
import Synchronization
import WebSocket

#if canImport(Glibc)
import Glibc
#endif

/// `recover`: many `/ws` clients come back at once, each having missed the same messages of a
/// topic; measures the time until every one has caught up, and the CPU it cost.
struct RecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Recovery on /ws: clients resubscribe at once with since; time until all have caught up.",
        discussion: """
            First finds the topic's position (a PushClient subscribes), then publishes --missed \
            messages on the raw /topics/TOPIC endpoint of the same server, then starts --clients \
            PushClients that subscribe with since = that position, and waits until each has \
            received all of them (in order, once: PushClient checks the offsets). The server \
            needs a history of the topic holding --missed messages (pushwave --history \
            'TOPIC=N'). With --server-pid, the server's CPU time during the recovery is read \
            from /proc/PID/stat.
            """)

    @Option(help: "The server's /ws URL, ws://HOST:PORT/ws.")
    var url: String

    @Option(help: "The topic.")
    var topic = "recover"

    @Option(help: "Clients that recover at once.")
    var clients = 100

    @Option(help: "Messages each client missed.")
    var missed = 1000

    @Option(help: "Bytes per message.")
    var size = 64

    @Option(help: "Event loops (threads) for the clients.")
    var threads = 1

    @Option(help: "Seconds to wait for every client to catch up.")
    var timeout = 120.0

    @Option(help: "The server's process id, for its CPU time during the recovery.")
    var serverPid: Int32?

    @Flag(help: "End with one JSON object on standard output.")
    var json = false

    func validate() throws {
        guard clients > 0, missed > 0, size > 0, threads > 0, timeout > 0 else {
            throw ValidationError("--clients, --missed, --size, --threads and --timeout must be positive")
        }
    }

    func run() throws {
        let wsURL = try WebSocketURL(url)
        let group = try EventLoopGroup(count: threads)
        try group.start { _ in }
        defer { group.stop(); group.wait() }
        let contexts = group.loops.map { WebSocketContext(loop: $0, role: .client) }
        let start = try missedMessages(wsURL, context: contexts[0])

        let tally = RecoveryTally()
        let serverCPU0 = serverPid.flatMap(serverCPUSeconds)
        let ownCPU0 = processCPUSeconds()
        let t0 = MonotonicClock.nanoseconds()
        let recovering = (0..<clients).map { index in
            RecoveringClient(url: wsURL, context: contexts[index % threads], target: missed, tally: tally)
        }
        for client in recovering {
            client.context.loop.execute { [topic] in
                client.subscribe(topic, from: start)
                client.start()
            }
        }
        let done = waitFor(seconds: timeout) { tally.caughtUp.load(ordering: .relaxed) == clients }
        let elapsed = Double(MonotonicClock.nanoseconds() - t0) / 1e9
        let ownCPU = processCPUSeconds() - ownCPU0
        var serverCPU: Double?
        if let pid = serverPid, let before = serverCPU0, let after = serverCPUSeconds(pid) { serverCPU = after - before }
        for client in recovering { client.context.loop.execute { client.close() } }
        report(done: done, elapsed: elapsed, serverCPU: serverCPU, ownCPU: ownCPU, tally: tally)
        if !done { throw ExitCode(1) }
    }

    /// The topic's position before the publications, once they have all been published.
    private func missedMessages(_ wsURL: WebSocketURL, context: WebSocketContext) throws -> StreamPosition {
        let observer = PositionObserver(url: wsURL, context: context)
        context.loop.execute { [topic] in observer.start(); observer.subscribe(topic) }
        guard waitFor(seconds: 10, { observer.position.withLock { $0 } != nil }), let start = observer.position.withLock({ $0 }) else {
            throw ValidationError("no subscribed reply from \(wsURL) for topic \(topic)")
        }
        var configuration = WebSocketConfiguration()
        configuration.maxBufferedAmount = max(1 << 20, missed * (size + 16))  // all of it queued at once
        let publisherContext = WebSocketContext(loop: context.loop, role: .client, configuration: configuration)
        let publisher = BurstPublisher(context: publisherContext, count: missed, size: size)
        let rawURL = try WebSocketURL("\(wsURL.isSecure ? "wss" : "ws")://\(wsURL.host):\(wsURL.port)/topics/\(topic)")
        context.loop.execute { try? publisher.connect(to: rawURL) }
        guard waitFor(seconds: 60, { observer.received.load(ordering: .relaxed) >= missed }) else {
            throw ValidationError("the \(missed) publications did not all come back to the observer")
        }
        context.loop.execute { observer.close(); publisher.close() }
        return start
    }

    private func report(done: Bool, elapsed: Double, serverCPU: Double?, ownCPU: Double, tally: RecoveryTally) {
        let caughtUp = tally.caughtUp.load(ordering: .relaxed)
        let delivered = tally.delivered.load(ordering: .relaxed)
        var lines = ["pushwave-load recover  \(url)  topic \(topic)",
                     "  \(caughtUp) of \(clients) clients caught up on \(missed) messages in \(fixed(elapsed, 3)) s",
                     "  \(delivered) messages delivered, \(tally.resets.load(ordering: .relaxed)) resets",
                     "  generator CPU \(fixed(ownCPU, 2)) s"]
        if let serverCPU { lines.append("  server CPU \(fixed(serverCPU, 2)) s, \(fixed(serverCPU * 1e9 / Double(max(1, delivered)), 0)) ns per message") }
        let text = lines.joined(separator: "\n")
        guard json else { return print(text) }
        printError(text)
        var fields: [(String, JSON)] = [
            ("mode", .string("recover")), ("clients", .int(clients)), ("missed", .int(missed)), ("size", .int(size)),
            ("caught_up", .int(caughtUp)), ("delivered", .int(delivered)), ("resets", .int(tally.resets.load(ordering: .relaxed))),
            ("elapsed_s", .double(elapsed)), ("generator_cpu_s", .double(ownCPU)),
        ]
        if let serverCPU { fields.append(("server_cpu_s", .double(serverCPU))) }
        print(JSON.object(fields).serialized)
    }
}

/// Polls `condition` every 5 ms until it holds or `seconds` pass.
private func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = MonotonicClock.nanoseconds() + nanoseconds(seconds: seconds)
    while MonotonicClock.nanoseconds() < deadline {
        if condition() { return true }
        sleep(milliseconds: 5)
    }
    return condition()
}

/// User plus system CPU seconds of a process, from /proc/PID/stat (fields 14 and 15, counted
/// after the command name, which may hold spaces).
func serverCPUSeconds(_ pid: Int32) -> Double? {
    guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 1024)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let close = line.lastIndex(of: ")") else { return nil }
    let fields = line[line.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// What the recovering clients report, from every loop.
final class RecoveryTally: Sendable {
    let caughtUp = Atomic<Int>(0)
    let delivered = Atomic<Int>(0)
    let resets = Atomic<Int>(0)
}

/// Counts its messages; caught up at `target`.
final class RecoveringClient: PushClient, @unchecked Sendable {
    let target: Int
    let tally: RecoveryTally
    var received = 0

    init(url: WebSocketURL, context: WebSocketContext, target: Int, tally: RecoveryTally) {
        self.target = target
        self.tally = tally
        super.init(url: url, context: context)
    }

    override func didReceive(topic: String, offset: UInt64, data: JSON) {
        received += 1
        tally.delivered.add(1, ordering: .relaxed)
        if received == target { tally.caughtUp.add(1, ordering: .relaxed) }
    }

    override func didReset(topic: String, position: StreamPosition) {
        tally.resets.add(1, ordering: .relaxed)
    }
}

/// Learns the topic's position, then counts live messages.
final class PositionObserver: PushClient, @unchecked Sendable {
    let position = Mutex<StreamPosition?>(nil)
    let received = Atomic<Int>(0)

    override func didSubscribe(topic: String, position: StreamPosition) {
        self.position.withLock { $0 = $0 ?? position }
    }

    override func didReceive(topic: String, offset: UInt64, data: JSON) {
        received.add(1, ordering: .relaxed)
    }
}

/// Publishes `count` messages of `size` bytes on a raw topic connection as soon as it opens.
final class BurstPublisher: WebSocket, @unchecked Sendable {
    let count: Int
    let size: Int

    init(context: WebSocketContext, count: Int, size: Int) {
        self.count = count
        self.size = size
        super.init(context: context)
    }

    override func didOpen() {
        let payload = [UInt8](repeating: UInt8(ascii: "m"), count: size)
        for _ in 0..<count { send(payload, kind: .text) }
    }
}
