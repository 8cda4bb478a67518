import Push
import Reactor
import Synchronization
import Testing
import TestSupport
import WebSocket

/// The README's `PushClient` sample, as written there (the print replaced by a record),
/// against a real push server.
final class Feed: PushClient, @unchecked Sendable {
    let received = Mutex<[String]>([])

    override func didReceive(topic: String, offset: UInt64, data: JSON) {
        received.withLock { $0.append("\(topic) \(offset) \(data.serialized)") }
    }
    override func didReset(topic: String, position: StreamPosition) {
        // Messages were lost for good: reload this topic's state from the backend.
    }
}

@Suite struct PushClientReadmeSampleTests {
    @Test func theSampleReceivesWhatItPublishes() throws {
        let fixture = try PushServerFixture(history: [])
        defer { fixture.stop() }

        let group = try EventLoopGroup(count: 1)
        try group.start { _ in }
        defer { group.stop(); group.wait() }
        let loop = group.loops[0]
        let feed = Feed(url: try WebSocketURL("ws://127.0.0.1:\(fixture.port)/ws"),
                        context: WebSocketContext(loop: loop, role: .client), token: nil)
        loop.execute {
            feed.start()                       // every call runs on the loop's thread
            feed.subscribe("news")
            feed.subscribe("chat")
        }
        #expect(waitUntil(seconds: 10) { fixture.server.hub.status(of: "chat").subscribers == 1 })
        loop.execute { feed.publish("chat", .object([("text", .string("hi"))])) }
        #expect(waitUntil(seconds: 10) { feed.received.withLock { $0 } == [#"chat 1 {"text":"hi"}"#] })
        loop.execute { feed.close() }
        #expect(waitUntil(seconds: 10) { fixture.server.hub.status(of: "chat").subscribers == 0 })
    }
}
