import Dispatch
import Synchronization
import Testing
@testable import Reactor

/// Writes back whatever it receives.
final class EchoConnection: TCPConnection, @unchecked Sendable {
    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        write(UnsafeRawBufferPointer(bytes))
    }
}

/// Sends a pattern derived from its index, checks that every byte comes back in order,
/// then closes (or, with `holdsOpen`, stays open until the test closes it).
final class VerifyingClient: TCPConnection, @unchecked Sendable {
    let payload: [UInt8]
    let tally: Tally
    var receivedCount = 0
    var done = false
    var holdsOpen = false

    init(loop: EventLoop, index: Int, size: Int, tally: Tally) {
        payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        self.tally = tally
        super.init(loop: loop)
    }

    override func connected() {
        tally.opened.add(1, ordering: .relaxed)
        payload.withUnsafeBytes { write($0) }
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        let expected = payload[receivedCount..<min(payload.count, receivedCount + bytes.count)]
        guard bytes.count <= payload.count - receivedCount, expected.elementsEqual(bytes) else {
            finish(failure: "mismatch after \(receivedCount) of \(payload.count) bytes")
            return
        }
        receivedCount += bytes.count
        if receivedCount == payload.count { finish(success: true) }
    }

    override func closed(_ reason: CloseReason) {
        if !done { finish(failure: "closed (\(reason)) after \(receivedCount) of \(payload.count) bytes") }
        tally.closeReasons.withLock { $0.append(reason) }
    }

    private func finish(success: Bool) {
        guard !done else { return }
        done = true
        tally.record(success: success)
        if !(success && holdsOpen) { close() }
    }

    private func finish(failure: String) {
        guard !done else { return }
        done = true
        tally.record(failure: failure)
        close()
    }
}

@Suite struct TCPEchoTests {
    @Test func fiveThousandConcurrentConnectionsEchoEveryByte() throws {
        let server = try LoopThread()
        let client = try LoopThread()
        defer { client.stop(); server.stop() }
        let listenerOptions = {
            var options = TCPListener.Options()
            options.backlog = 4096
            return options
        }()
        let port = try server.sync {
            try TCPListener(loop: server.loop, address: SocketAddress(host: "127.0.0.1", port: 0), options: listenerOptions) {
                EchoConnection(loop: $0)
            }.localAddress.port
        }
        let tally = Tally()
        let connections = 5_000
        // Connects go out in batches, each once the previous one is connected: the test proves
        // that every byte of every connection comes back, not how fast a storm of connects is
        // absorbed (a slow or sanitized machine must not fail it).
        // Each client stays open once verified, so all 5,000 are open at the same time.
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        var clients: [VerifyingClient] = []
        for batch in stride(from: 0, to: connections, by: 500) {
            clients += try client.sync {
                try (batch..<min(batch + 500, connections)).map { index in
                    let verifying = VerifyingClient(loop: client.loop, index: index, size: 4096 + index % 512, tally: tally)
                    verifying.holdsOpen = true
                    try verifying.connect(to: address)
                    return verifying
                }
            }
            _ = waitUntil(seconds: 60) { tally.opened.load(ordering: .relaxed) + tally.failed.load(ordering: .relaxed) >= min(batch + 500, connections) }
        }
        #expect(waitUntil(seconds: 120) { tally.finished == connections }, "\(tally.summary(expected: connections))")
        #expect(tally.succeeded.load(ordering: .relaxed) == connections, "\(tally.summary(expected: connections))")
        #expect(try server.sync { server.loop.connectionCount } == connections, "every connection open at once")
        let opened = clients
        try client.sync { for verifying in opened { verifying.close() } }
        // Every server-side connection notices the clients leaving, and gives its buffers back.
        #expect(waitUntil(seconds: 30) { (try? server.sync { server.loop.connectionCount }) == 0 })
        #expect(try server.sync { server.loop.pool.blocksInUse } == 0)
        #expect(try client.sync { client.loop.pool.blocksInUse } == 0)
    }

    @Test func largeWriteIsBufferedAndFullyDelivered() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let port = try thread.sync {
            try TCPListener(loop: thread.loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { EchoConnection(loop: $0) }.localAddress.port
        }
        let tally = Tally()
        try thread.sync {
            // 8 MiB in one write: most of it waits in the pooled send buffer.
            try VerifyingClient(loop: thread.loop, index: 7, size: 8 << 20, tally: tally)
                .connect(to: SocketAddress(host: "127.0.0.1", port: port))
        }
        #expect(waitUntil(seconds: 60) { tally.succeeded.load(ordering: .relaxed) == 1 })
        #expect(waitUntil(seconds: 10) { (try? thread.sync { thread.loop.pool.blocksInUse }) == 0 })
    }

    @Test func connectToAClosedPortReportsRefused() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        // Find a port nobody listens on: bind, read the port, close.
        let port = try thread.sync {
            let listener = try TCPListener(loop: thread.loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { _ in nil }
            defer { listener.close() }
            return listener.localAddress.port
        }
        let tally = Tally()
        try thread.sync {
            try VerifyingClient(loop: thread.loop, index: 0, size: 10, tally: tally).connect(to: SocketAddress(host: "127.0.0.1", port: port))
        }
        #expect(waitUntil(seconds: 5) { tally.closeReasons.withLock { $0.count } == 1 })
        #expect(tally.closeReasons.withLock { $0 } == [.error(ECONNREFUSED)])
    }

    @Test func peerResetWhileTheServerIsWriting() throws {
        final class Flooder: TCPConnection, @unchecked Sendable {
            let tally: Tally
            init(loop: EventLoop, tally: Tally) { self.tally = tally; super.init(loop: loop) }
            override func connected() {
                let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
                for _ in 0..<16 { chunk.withUnsafeBytes { write($0) } }
            }
            override func closed(_ reason: CloseReason) { tally.closeReasons.withLock { $0.append(reason) } }
        }
        let thread = try LoopThread()
        defer { thread.stop() }
        let tally = Tally()
        let port = try thread.sync {
            try TCPListener(loop: thread.loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { Flooder(loop: $0, tally: tally) }.localAddress.port
        }
        let fd = try #require(connectBlocking(port: port))
        var scratch = [UInt8](repeating: 0, count: 65536)
        _ = read(fd, &scratch, scratch.count)  // the flood has started
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)  // reset
        #expect(waitUntil(seconds: 10) { tally.closeReasons.withLock { $0.count } == 1 })
        let reason = tally.closeReasons.withLock { $0.first }
        #expect(reason == .error(ECONNRESET) || reason == .error(EPIPE))
        #expect(try thread.sync { thread.loop.pool.blocksInUse } == 0)
        #expect(try thread.sync { thread.loop.connectionCount } == 0)
    }

    @Test func dataBeforeHalfCloseIsEchoedThenTheServerCloses() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let port = try thread.sync {
            try TCPListener(loop: thread.loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { EchoConnection(loop: $0) }.localAddress.port
        }
        let fd = try #require(connectBlocking(port: port))
        defer { close(fd) }
        let message = Array("hello, half-closed world".utf8)
        #expect(write(fd, message, message.count) == message.count)
        shutdown(fd, Int32(SHUT_WR))
        var echoed: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            echoed += buffer[..<count]
        }
        #expect(echoed == message)
    }

    @Test func readyListKeepsABusyConnectionFromStarvingOthers() throws {
        // One loop reads at most `readsPerIteration` buffers per connection per iteration.
        var options = EventLoop.Options()
        options.receiveBufferSize = 4096
        options.readsPerIteration = 1
        let group = try EventLoopGroup(count: 1, options: options)
        try group.start { _ in }
        defer { group.stop(); group.wait() }
        let loop = group.loops[0]
        let tally = Tally()
        let done = Atomic<Bool>(false)
        let port = Mutex(0)
        loop.execute {
            let listener = try? TCPListener(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { EchoConnection(loop: $0) }
            port.withLock { $0 = listener?.localAddress.port ?? 0 }
            done.store(true, ordering: .releasing)
        }
        #expect(waitUntil(seconds: 5) { done.load(ordering: .acquiring) })
        let address = try SocketAddress(host: "127.0.0.1", port: port.withLock { $0 })
        loop.execute {
            for index in 0..<20 {
                try? VerifyingClient(loop: loop, index: index, size: 256 * 1024, tally: tally).connect(to: address)
            }
        }
        #expect(waitUntil(seconds: 60) { tally.succeeded.load(ordering: .relaxed) == 20 })
    }
}

import Glibc
import TestSupport

@Suite struct AcceptBatchTests {
    @Test func acceptingOneConnectionPerIterationLosesNone() throws {
        // The loop is held while the clients connect and send, so that all of them wait in
        // the backlog at once; the listener takes one per iteration and must come back for
        // the rest from the ready list (no new edge comes for connections already queued).
        let thread = try LoopThread()
        defer { thread.stop() }
        var options = TCPListener.Options()
        options.acceptsPerIteration = 1
        let listenerOptions = options
        let port = try thread.sync {
            try TCPListener(loop: thread.loop, address: SocketAddress(host: "127.0.0.1", port: 0), options: listenerOptions) {
                EchoConnection(loop: $0)
            }.localAddress.port
        }
        let gate = DispatchSemaphore(value: 0)
        thread.loop.execute { gate.wait() }
        var clients: [(fd: Int32, message: [UInt8])] = []
        for index in 0..<20 {
            let fd = try #require(connectBlocking(port: port))
            let message = Array("client \(index)".utf8)
            writeAll(fd, message)
            clients.append((fd, message))
        }
        defer { for client in clients { close(client.fd) } }
        gate.signal()
        for (index, client) in clients.enumerated() {
            #expect(readBytes(client.fd, count: client.message.count) == client.message, "client \(index)")
        }
    }
}
