import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Reactor

/// `withWritesCorked`: many writes made outside an input callback (from a task) gather in the
/// loop's cork buffer and leave together when the body returns, in order.
@Suite struct CorkedWritesTests {
    /// The accepted connection, for the test to write from the loop.
    final class Accepted: Sendable {
        let connection = Mutex<TCPConnection?>(nil)
    }

    /// A server loop with one accepted connection, and the client's blocking socket.
    private func connectedPair(_ thread: LoopThread) throws -> (TCPConnection, Int32) {
        let accepted = Accepted()
        let port = try thread.sync {
            try TCPListener(loop: thread.loop, address: SocketAddress(host: "127.0.0.1", port: 0)) { loop in
                let connection = TCPConnection(loop: loop)
                accepted.connection.withLock { $0 = connection }
                return connection
            }.localAddress.port
        }
        let fd = try #require(connectBlocking(port: port))
        #expect(waitUntil(seconds: 5) { accepted.connection.withLock { $0 != nil } })
        return (try #require(accepted.connection.withLock { $0 }), fd)
    }

    private static func chunk(_ index: Int, size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: index &* 7 &+ $0) }
    }

    @Test func writesGatherUntilTheBodyReturnsThenLeaveInOrder() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let (connection, fd) = try connectedPair(thread)
        defer { close(fd) }
        let (inside, after) = try thread.sync {
            var inside = 0
            connection.withWritesCorked {
                for index in 0..<1_000 { Self.chunk(index, size: 10).withUnsafeBytes { connection.write($0) } }
                // Gathered, not sent: uncorked, each write would have gone to the kernel.
                inside = connection.bufferedAmount
            }
            return (inside, connection.bufferedAmount)
        }
        #expect(inside == 10_000)
        #expect(after == 0)
        #expect(readBytes(fd, count: 10_000) == (0..<1_000).flatMap { Self.chunk($0, size: 10) })
    }

    /// More than the cork buffer holds (256 KiB): it is sent each time it fills, and the
    /// order holds across those sends and what the kernel leaves queued.
    @Test func moreThanTheCorkBufferHoldsLeavesInOrder() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let (connection, fd) = try connectedPair(thread)
        defer { close(fd) }
        let chunks = 1_500
        let size = 1_000
        try thread.sync {
            connection.withWritesCorked {
                for index in 0..<chunks { Self.chunk(index, size: size).withUnsafeBytes { connection.write($0) } }
            }
        }
        #expect(readBytes(fd, count: chunks * size) == (0..<chunks).flatMap { Self.chunk($0, size: size) })
    }

    /// A connection that closes inside the body (a failed write does that) leaves nothing
    /// corked behind: another connection's writes after it go out whole.
    @Test func aConnectionClosedInsideTheBodyLeavesTheCorkBufferEmpty() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let (first, firstFD) = try connectedPair(thread)
        let (second, secondFD) = try connectedPair(thread)
        defer { close(firstFD); close(secondFD) }
        try thread.sync {
            first.withWritesCorked {
                Self.chunk(1, size: 100).withUnsafeBytes { first.write($0) }
                first.reset()
            }
            second.withWritesCorked {
                Self.chunk(2, size: 100).withUnsafeBytes { second.write($0) }
            }
        }
        #expect(readBytes(secondFD, count: 200, seconds: 1) == Self.chunk(2, size: 100))
        #expect(try thread.sync { thread.loop.corkCount } == 0)
    }
}
