import Glibc
import Synchronization
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// The broker seam: what the topics of a loop tell the broker, and when.
@Suite struct BrokerTests {
    /// Records the calls, and delivers nothing anywhere.
    final class RecordingBroker: Broker {
        let calls = Mutex<[String]>([])

        func publish(_ topic: String, _ payload: UnsafeRawBufferPointer, kind: MessageKind, from origin: WebSocketContext?) {
            let from = origin == nil ? "nowhere" : "a loop"
            calls.withLock { $0.append("publish \(topic) \(String(decoding: payload, as: UTF8.self)) from \(from)") }
        }

        func subscribe(_ context: WebSocketContext, to topic: String) {
            calls.withLock { $0.append("subscribe \(topic)") }
        }

        func unsubscribe(_ context: WebSocketContext, from topic: String) {
            calls.withLock { $0.append("unsubscribe \(topic)") }
        }
    }

    /// Subscribes to "a" and "b"; publishes what it receives to "a".
    final class Member: WebSocket, @unchecked Sendable {
        override func didOpen() {
            subscribe("a")
            subscribe("b")
        }
        override func didReceive(_ message: RawSpan, kind: MessageKind) { publish("a", message, kind: kind) }
    }

    @Test func theBrokerHearsOfALoopsFirstAndLastSubscriberAndOfEachPublishOnce() throws {
        let broker = RecordingBroker()
        let thread = try LoopThread()
        defer { thread.stop() }
        let server = WebSocketServer(broker: broker) { _ in .upgrade { Member(context: $0) } }
        let loop = thread.loop
        let port = try thread.sync { try server.listen(on: [loop], address: SocketAddress(host: "127.0.0.1", port: 0)).port }
        let first = try rawUpgrade(port: port)
        let second = try rawUpgrade(port: port)
        _ = readUpgradeResponse(first)
        _ = readUpgradeResponse(second)
        #expect(waitUntil(seconds: 5) { broker.calls.withLock { $0.count } == 2 })

        writeAll(first, maskedFrame(0x1, Array("hi".utf8)))
        // Both members on this loop get it from the loop's own topics, not from the broker.
        #expect(readBytes(first, count: 4) == [0x81, 2, 0x68, 0x69])
        #expect(readBytes(second, count: 4) == [0x81, 2, 0x68, 0x69])
        server.publish("b", Array("x".utf8), kind: .text)
        close(first)
        close(second)
        #expect(waitUntil(seconds: 5) { broker.calls.withLock { $0.count } == 6 })
        #expect(broker.calls.withLock { $0 } == [
            "subscribe a", "subscribe b", "publish a hi from a loop", "publish b x from nowhere",
            "unsubscribe a", "unsubscribe b",
        ])
    }
}
