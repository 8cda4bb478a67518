import Glibc
import Synchronization
import Testing
import TestSupport
import Reactor
import WebSocket

/// A connection that subscribes after it closed (from `didClose`, or from a task that was on
/// its way, as the push server's recovery is when a write fails on a reset connection) must
/// not be taken as a subscriber: closing unsubscribed it already, so nothing would ever remove
/// it, and the topic would keep it, and through it its context and loop, alive for good.
@Suite struct SubscribeAfterCloseTests {
    final class Watched: Sendable {
        let socket = Mutex<WeakSocket>(WeakSocket())
        let closed = Atomic<Bool>(false)
    }

    struct WeakSocket: @unchecked Sendable {
        weak var value: WebSocket?
    }

    /// Subscribes to "late" once closed.
    final class LateSubscriber: WebSocket, @unchecked Sendable {
        let watched: Watched

        init(context: WebSocketContext, watched: Watched) {
            self.watched = watched
            super.init(context: context)
        }

        override func didOpen() { subscribe("early") }

        override func didClose(code: CloseCode, reason: String) {
            subscribe("late")
            subscribe("early")
            watched.closed.store(true, ordering: .releasing)
        }
    }

    @Test func aClosedConnectionIsNotSubscribedAndIsFreed() throws {
        let thread = try LoopThread()
        defer { thread.stop() }
        let watched = Watched()
        let server = WebSocketServer { _ in
            .upgrade { context in
                let socket = LateSubscriber(context: context, watched: watched)
                watched.socket.withLock { $0.value = socket }
                return socket
            }
        }
        let port = try thread.sync { try server.listen(on: [thread.loop], address: SocketAddress(host: "127.0.0.1", port: 0)).port }
        let context = try #require(server.contexts.first)
        let fd = try rawUpgrade(port: port)
        _ = readUpgradeResponse(fd)
        #expect(waitUntil(seconds: 5) { (try? thread.sync { context.subscriberCount("early") }) == 1 })
        // A reset, as a dropped mobile connection looks to the server.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
        #expect(waitUntil(seconds: 5) { watched.closed.load(ordering: .acquiring) })
        #expect(try thread.sync { context.subscriberCount("late") + context.subscriberCount("early") } == 0)
        // Nothing of the server's holds the connection any more.
        #expect(waitUntil(seconds: 5) { watched.socket.withLock { $0.value == nil } })
    }
}
