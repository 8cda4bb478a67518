import Glibc
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// A connection's output leaves in the order it was issued, whether it went through a topic
/// (batched until the end of the loop iteration) or straight to the connection.
@Suite struct OutputOrderTests {
    /// Subscribes to "t"; for each message received, publishes it, sends "direct", publishes
    /// "after", then closes when the message was "bye".
    final class Interleaver: WebSocket, @unchecked Sendable {
        override func didOpen() { subscribe("t") }
        override func didReceive(_ message: RawSpan, kind: MessageKind) {
            let bye = message.utf8String == "bye"
            publish("t", message, kind: kind)
            if bye {
                close(code: .normalClosure, reason: "")
                return
            }
            send(text: "direct")
            Array("after".utf8).withUnsafeBytes { context.publish("t", $0, kind: .text) }
        }
    }

    private func upgradedSubscriber(_ server: TestServer) throws -> Int32 {
        let fd = try rawUpgrade(port: server.port)
        #expect(readUpgradeResponse(fd).hasPrefix("HTTP/1.1 101"))
        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.context.subscriberCount("t") }) == 1 })
        return fd
    }

    @Test func publishThenSendArriveInThatOrder() throws {
        let server = try TestServer { _ in .upgrade { Interleaver(context: $0) } }
        defer { server.stop() }
        let fd = try upgradedSubscriber(server)
        defer { close(fd) }
        writeAll(fd, maskedFrame(0x1, Array("pub".utf8)))
        let expected = [0x81, 3] + Array("pub".utf8) + [0x81, 6] + Array("direct".utf8) + [0x81, 5] + Array("after".utf8)
        #expect(readBytes(fd, count: expected.count) == expected)
    }

    @Test func publishThenCloseDeliversTheMessageBeforeTheCloseFrame() throws {
        let server = try TestServer { _ in .upgrade { Interleaver(context: $0) } }
        defer { server.stop() }
        let fd = try upgradedSubscriber(server)
        defer { close(fd) }
        writeAll(fd, maskedFrame(0x1, Array("bye".utf8)))
        #expect(readBytes(fd, count: 9) == [0x81, 3] + Array("bye".utf8) + [0x88, 2, 0x03, 0xE8])
    }

    /// On "go": publishes "before" to "u", subscribes to "u", publishes "after".
    final class LateSubscriber: WebSocket, @unchecked Sendable {
        override func didReceive(_ message: RawSpan, kind: MessageKind) {
            Array("before".utf8).withUnsafeBytes { context.publish("u", $0, kind: .text) }
            subscribe("u")
            Array("after".utf8).withUnsafeBytes { context.publish("u", $0, kind: .text) }
        }
    }

    /// Subscribed to "u" from the start.
    final class EarlySubscriber: WebSocket, @unchecked Sendable {
        override func didOpen() { subscribe("u") }
    }

    @Test func aSubscriberGetsOnlyWhatIsPublishedAfterItSubscribed() throws {
        let server = try TestServer { request in
            request.head.path == "/early" ? .upgrade { EarlySubscriber(context: $0) } : .upgrade { LateSubscriber(context: $0) }
        }
        defer { server.stop() }
        let early = try rawUpgrade(port: server.port, path: "/early")
        defer { close(early) }
        #expect(readUpgradeResponse(early).hasPrefix("HTTP/1.1 101"))
        #expect(waitUntil(seconds: 5) { (try? server.thread.sync { server.context.subscriberCount("u") }) == 1 })
        let late = try rawUpgrade(port: server.port, path: "/late")
        defer { close(late) }
        #expect(readUpgradeResponse(late).hasPrefix("HTTP/1.1 101"))
        writeAll(late, maskedFrame(0x1, Array("go".utf8)))
        // The late subscriber's first message is "after": "before" was in the batch already.
        #expect(readBytes(late, count: 7) == [0x81, 5] + Array("after".utf8))
        #expect(readBytes(early, count: 15) == [0x81, 6] + Array("before".utf8) + [0x81, 5] + Array("after".utf8))
    }
}
