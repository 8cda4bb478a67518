import Dispatch
import Synchronization
import Testing
@testable import Reactor

@Suite struct EventLoopTests {
    @Test func executeFromManyThreadsRunsEveryTaskOnTheLoop() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let count = Mutex(0)
        let offLoop = Atomic<Int>(0)
        let loop = thread.loop
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            for _ in 0..<1_000 {
                loop.execute {
                    if !loop.inEventLoop { offLoop.add(1, ordering: .relaxed) }
                    count.withLock { $0 += 1 }
                }
            }
        }
        #expect(waitUntil(seconds: 10) { count.withLock { $0 } == 16_000 })
        #expect(offLoop.load(ordering: .relaxed) == 0)
    }

    @Test func timersFireInOrderAndCancelledOnesDoNot() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let fired = Mutex<[Int]>([])
        try thread.sync {
            let loop = thread.loop
            loop.schedule(afterMilliseconds: 60) { fired.withLock { $0.append(3) } }
            loop.schedule(afterMilliseconds: 20) { fired.withLock { $0.append(1) } }
            let cancelled = loop.schedule(afterMilliseconds: 30) { fired.withLock { $0.append(99) } }
            loop.schedule(afterMilliseconds: 40) { fired.withLock { $0.append(2) } }
            #expect(loop.cancel(cancelled))
        }
        #expect(waitUntil(seconds: 5) { fired.withLock { $0.count } == 3 })
        #expect(fired.withLock { $0 } == [1, 2, 3])
    }

    @Test func timerDoesNotFireEarly() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let start = MonotonicClock.milliseconds()
        let firedAt = Atomic<Int64>(0)
        _ = try thread.sync {
            thread.loop.schedule(afterMilliseconds: 150) { firedAt.store(MonotonicClock.milliseconds(), ordering: .relaxed) }
        }
        #expect(waitUntil(seconds: 5) { firedAt.load(ordering: .relaxed) != 0 })
        #expect(firedAt.load(ordering: .relaxed) - start >= 150)
    }

    /// A stopped loop keeps nothing alive: neither a task handed over too late to run (during
    /// the shutdown or after it) nor a timer that never fired. Each capture here holds the
    /// loop, as real ones often do, so anything kept would also keep the loop.
    @Test func aStoppedLoopReleasesWhatItsTasksAndTimersCapture() throws {
        final class Capture: Sendable {
            let loop: EventLoop
            init(_ loop: EventLoop) { self.loop = loop }
        }
        weak var releasedLoop: EventLoop?
        weak var queuedDuringShutdown: Capture?
        weak var queuedAfterShutdown: Capture?
        weak var timer: Capture?
        do {
            let loop = try EventLoop()
            releasedLoop = loop
            let duringShutdown = Capture(loop), afterShutdown = Capture(loop), timed = Capture(loop)
            queuedDuringShutdown = duringShutdown
            queuedAfterShutdown = afterShutdown
            timer = timed
            loop.schedule(afterMilliseconds: 60_000) { _ = timed }
            // Runs as the loop shuts down, and hands over one more task, which cannot run.
            loop.execute { loop.execute { _ = duringShutdown } }
            loop.stop()
            loop.run()
            loop.execute { _ = afterShutdown }
        }
        #expect(queuedDuringShutdown == nil)
        #expect(queuedAfterShutdown == nil)
        #expect(timer == nil)
        #expect(releasedLoop == nil)
    }

    @Test func stopReturnsFromRunAndClosesListeners() throws {
        let group = try EventLoopGroup(count: 2)
        let ports = Mutex<[Int]>([])
        try group.start { loop in
            let listener = try? TCPListener(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { _ in nil }
            if let listener { ports.withLock { $0.append(listener.localAddress.port) } }
        }
        #expect(waitUntil(seconds: 5) { ports.withLock { $0.count } == 2 })
        group.stop()
        group.wait()
        // The listeners are closed: connecting is refused.
        for port in ports.withLock({ $0 }) {
            #expect(connectBlocking(port: port) == nil)
        }
    }
}

import Glibc
import TestSupport

/// The descriptors and socket inodes of accepted connections.
final class DescriptorRecords: Sendable {
    let value = Mutex<[(fd: Int32, inode: UInt)]>([])
}

/// Remembers the descriptor and socket inode of every connection it accepts.
final class RecordingConnection: TCPConnection, @unchecked Sendable {
    let record: DescriptorRecords

    init(loop: EventLoop, record: DescriptorRecords) {
        self.record = record
        super.init(loop: loop)
    }

    override func connected() {
        var status = stat()
        fstat(fd, &status)
        record.value.withLock { $0.append((fd, UInt(status.st_ino))) }
    }
}

@Suite struct LoopShutdownTests {
    /// Other tests run in parallel and reuse descriptor numbers, so "closed" means: the
    /// number is free, or it now names a different socket.
    @Test func stoppingTheLoopClosesEveryDescriptorItOwns() throws {
        let records = DescriptorRecords()
        let group = try EventLoopGroup(count: 1)
        let loop = group.loops[0]
        let listener = try TCPListener(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)) {
            RecordingConnection(loop: $0, record: records)
        }
        let port = listener.localAddress.port
        var listenerStatus = stat()
        fstat(listener.fd, &listenerStatus)
        let listenerFD = listener.fd
        try group.start { _ in }
        let clients = (0..<50).compactMap { _ in connectBlocking(port: port) }
        defer { clients.forEach { close($0) } }
        #expect(clients.count == 50)
        #expect(waitUntil(seconds: 5) { records.value.withLock { $0.count } == 50 })
        group.stop()
        group.wait()

        func stillOpen(_ fd: Int32, _ inode: UInt) -> Bool {
            var status = stat()
            return fstat(fd, &status) == 0 && UInt(status.st_ino) == inode
        }
        #expect(!stillOpen(listenerFD, UInt(listenerStatus.st_ino)))
        for (fd, inode) in records.value.withLock({ $0 }) {
            #expect(!stillOpen(fd, inode), "descriptor \(fd) survived the loop")
        }
        // And every client sees the end of its connection.
        for fd in clients {
            #expect(readToEnd(fd, seconds: 5).isEmpty)
        }
    }
}
