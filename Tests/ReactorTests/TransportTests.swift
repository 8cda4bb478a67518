import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Reactor

/// A toy cipher: every byte XORed with `key` on the way in and out. Its handshake is one
/// greeting byte (the key) sent by the connecting side, so data flows only after it.
final class XORTransport: SocketTransport {
    enum Role { case sendsGreeting, expectsGreeting }
    let key: UInt8
    let role: Role
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    init(key: UInt8, role: Role) {
        self.key = key
        self.role = role
    }

    override func handshake(on fd: Int32) -> HandshakeProgress {
        var greeting = key
        switch role {
        case .sendsGreeting:
            return Glibc.write(fd, &greeting, 1) == 1 ? .complete : .failed(EPROTO)
        case .expectsGreeting:
            let count = Glibc.read(fd, &greeting, 1)
            if count < 0, errno == EAGAIN { return .pending }
            return count == 1 && greeting == key ? .complete : .failed(EPROTO)
        }
    }

    override func receive(from fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = super.receive(from: fd, into: buffer)
        for index in 0..<max(0, count) { buffer[index] ^= key }
        return count
    }

    /// Enciphers a scratch buffer at a time, until all is taken or the socket is full (only
    /// then may a transport take less: epoll reports the writable edge only after that).
    override func send(to fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Int {
        let total = first.count + second.count
        var taken = 0
        while taken < total {
            let count = min(total - taken, scratch.count)
            let written = scratch.withUnsafeMutableBytes { cipher in
                for index in 0..<count {
                    let offset = taken + index
                    cipher[index] = (offset < first.count ? first[offset] : second[offset - first.count]) ^ key
                }
                return super.send(to: fd, UnsafeRawBufferPointer(rebasing: cipher[..<count]), UnsafeRawBufferPointer(start: nil, count: 0))
            }
            if written < 0 { return taken > 0 ? taken : written }
            taken += written
            if written < count { break }
        }
        return taken
    }
}

/// Echoes, and remembers what it saw: when it opened, the plaintext, and the most output that
/// waited in its send buffer.
final class RecordingEchoConnection: TCPConnection, @unchecked Sendable {
    let record: EchoRecord

    init(loop: EventLoop, record: EchoRecord) {
        self.record = record
        super.init(loop: loop)
    }

    override func connected() {
        record.connected.add(1, ordering: .relaxed)
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        record.received.withLock { $0 += bytes.prefix(64) }
        write(UnsafeRawBufferPointer(bytes))
        record.peakBuffered.raise(toAtLeast: bufferedAmount)
    }

    override func closed(_ reason: CloseReason) {
        record.closeReasons.withLock { $0.append(reason) }
    }
}

final class EchoRecord: Sendable {
    let connected = Atomic<Int>(0)
    let received = Mutex<[UInt8]>([])
    let peakBuffered = Atomic<Int>(0)
    let closeReasons = Mutex<[CloseReason]>([])
}

extension Atomic where Value == Int {
    func raise(toAtLeast value: Int) {
        var current = load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = compareExchange(expected: current, desired: value, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

@Suite struct TransportTests {
    /// A listener whose connections echo through `makeTransport()` (nil: the plain socket).
    private func startEchoServer(_ thread: LoopThread, record: EchoRecord, makeTransport: @escaping @Sendable () -> SocketTransport?) throws -> Int {
        try thread.sync {
            try TCPListener(loop: thread.loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { loop in
                let connection = RecordingEchoConnection(loop: loop, record: record)
                connection.transport = makeTransport()
                return connection
            }.localAddress.port
        }
    }

    @Test func bytesPassThroughTheTransportBothWaysWithPartialWrites() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let record = EchoRecord()
        let port = try startEchoServer(thread, record: record) { XORTransport(key: 0x5A, role: .expectsGreeting) }
        let tally = Tally()
        try thread.sync {
            // 8 MiB in one write: the kernel takes part, the rest waits in the send buffers,
            // on both sides, and leaves through the transport when the socket drains.
            let client = VerifyingClient(loop: thread.loop, index: 3, size: 8 << 20, tally: tally)
            client.transport = XORTransport(key: 0x5A, role: .sendsGreeting)
            try client.connect(to: SocketAddress(host: "127.0.0.1", port: port))
        }
        #expect(waitUntil(seconds: 60) { tally.finished == 1 }, "\(tally.summary(expected: 1))")
        #expect(tally.succeeded.load(ordering: .relaxed) == 1, "\(tally.summary(expected: 1))")
        #expect(record.peakBuffered.load(ordering: .relaxed) > 0, "the echo had output waiting in its send buffer")
        #expect(waitUntil(seconds: 10) { (try? thread.sync { thread.loop.pool.blocksInUse }) == 0 })
    }

    @Test func theWireCarriesCiphertextAndConnectedWaitsForTheHandshake() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let record = EchoRecord()
        let port = try startEchoServer(thread, record: record) { XORTransport(key: 0x21, role: .expectsGreeting) }
        let fd = try #require(connectBlocking(port: port))
        defer { close(fd) }
        usleep(50_000)
        #expect(record.connected.load(ordering: .relaxed) == 0, "no connected() before the greeting")
        let plaintext = Array("hello through the seam".utf8)
        writeAll(fd, [0x21] + plaintext.map { $0 ^ 0x21 })
        let echoed = readBytes(fd, count: plaintext.count)
        #expect(echoed == plaintext.map { $0 ^ 0x21 })
        #expect(record.connected.load(ordering: .relaxed) == 1)
        #expect(record.received.withLock { $0 } == plaintext)
    }

    @Test func aFailedHandshakeClosesWithItsError() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let record = EchoRecord()
        let port = try startEchoServer(thread, record: record) { XORTransport(key: 0x21, role: .expectsGreeting) }
        let fd = try #require(connectBlocking(port: port))
        defer { close(fd) }
        writeAll(fd, [0x22])
        #expect(readToEnd(fd).isEmpty)
        #expect(waitUntil(seconds: 5) { record.closeReasons.withLock { $0 } == [.error(EPROTO)] })
        #expect(record.connected.load(ordering: .relaxed) == 0)
        #expect(try thread.sync { thread.loop.connectionCount } == 0)
    }

    @Test(arguments: [false, true])
    func thePlainSocketEchoesWithOrWithoutItsTransportObject(explicit: Bool) throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let record = EchoRecord()
        let port = try startEchoServer(thread, record: record) { explicit ? SocketTransport() : nil }
        let tally = Tally()
        try thread.sync {
            let client = VerifyingClient(loop: thread.loop, index: 5, size: 8 << 20, tally: tally)
            client.transport = explicit ? SocketTransport() : nil
            try client.connect(to: SocketAddress(host: "127.0.0.1", port: port))
        }
        #expect(waitUntil(seconds: 60) { tally.finished == 1 }, "\(tally.summary(expected: 1))")
        #expect(tally.succeeded.load(ordering: .relaxed) == 1, "\(tally.summary(expected: 1))")
        #expect(record.peakBuffered.load(ordering: .relaxed) > 0)
    }
}
