import Testing
import TestSupport
import Reactor

// The README's reactor sample, as written there, run on a thread and checked with a socket.
final class Echo: TCPConnection, @unchecked Sendable {
    override func received(_ bytes: UnsafeMutableRawBufferPointer) {
        write(UnsafeRawBufferPointer(bytes))   // corked: one send per read
    }
}

@Suite struct ReadmeSampleTests {
    @Test func reactorSampleEchoes() throws {
        let loop = try EventLoop()
        let listener = try TCPListener(loop: loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { loop in
            Echo(loop: loop)
        }
        loop.schedule(afterMilliseconds: 1_000) { print("a timer on the loop") }
        let port = listener.localAddress.port
        let group = RunningLoop(loop)
        defer { group.stopAndWait() }

        let fd = try #require(connectBlocking(port: port))
        defer { close(fd) }
        let message = Array("echo through the README sample".utf8)
        writeAll(fd, message)
        #expect(readBytes(fd, count: message.count) == message)
    }
}

/// Runs an existing loop on a thread until stopped.
final class RunningLoop {
    private let loop: EventLoop
    private let thread: Thread

    init(_ loop: EventLoop) {
        self.loop = loop
        thread = Thread { loop.run() }
        thread.start()
    }

    func stopAndWait() {
        loop.stop()
        while !thread.isFinished { usleep(1_000) }
    }
}

import Foundation
