import Dispatch
import Glibc
import Push
import Reactor
import Testing
import TestSupport
import WebSocket

/// The Swift client of the `/ws` protocol against a real push server, through a proxy that
/// cuts the connection as a flaky network does.
@Suite struct PushClientTests {
    @Test func manyTopicsOnOneConnectionArriveInOrder() throws {
        let fixture = try PushServerFixture(history: ["t.*=1000"])
        defer { fixture.stop() }
        let thread = try LoopThread()
        defer { thread.stop() }
        let log = ClientLog()
        let topics = (0..<50).map { "t.\($0)" }
        let client = try startClient(on: thread, port: fixture.port, topics: topics, log: log)
        #expect(waitUntil(seconds: 10) { log.subscribedTopics() == topics.count })
        for round in 1...20 { for topic in topics { fixture.publish(topic, round) } }
        #expect(waitUntil(seconds: 10) { topics.allSatisfy { log.count($0) == 20 } })
        for topic in topics {
            #expect(log.deliveries(topic) == (1...20).map { .init(offset: UInt64($0), data: .int($0)) })
        }
        try thread.sync { client.close() }
        #expect(waitUntil(seconds: 10) { topics.allSatisfy { fixture.server.hub.status(of: $0).subscribers == 0 } })
    }

    /// The connection is reset again and again while 3,000 messages are published to 10
    /// topics; after each cut the client reconnects by itself and recovers with `since`.
    @Test func cutsWhilePublishingLoseAndRepeatNothing() throws {
        let fixture = try PushServerFixture(history: ["c.*=10000"])
        defer { fixture.stop(after: (0..<10).map { "c.\($0)" }) }
        let proxy = CuttingProxy(upstreamPort: fixture.port)
        defer { proxy.stop() }
        let thread = try LoopThread()
        defer { thread.stop() }
        let log = ClientLog()
        let topics = (0..<10).map { "c.\($0)" }
        let client = try startClient(on: thread, port: proxy.port, topics: topics, log: log)
        #expect(waitUntil(seconds: 10) { log.subscribedTopics() == topics.count })
        let perTopic = 300
        for number in 1...perTopic {
            for topic in topics { fixture.publish(topic, number) }
            if number % 50 == 0 { proxy.cut() }
            if number % 10 == 0 { usleep(2_000) }  // let deliveries and cuts interleave
        }
        #expect(waitUntil(seconds: 30) { topics.allSatisfy { log.count($0) >= perTopic } })
        for topic in topics {
            #expect(log.deliveries(topic) == (1...perTopic).map { .init(offset: UInt64($0), data: .int($0)) })
        }
        #expect(log.resets.withLock { $0.isEmpty })
        #expect(log.opens.load(ordering: .relaxed) > 1)
        try thread.sync { client.close() }
        proxy.stop()
        #expect(waitUntil(seconds: 10) { topics.allSatisfy { fixture.server.hub.status(of: $0).subscribers == 0 } })
    }

    /// Away for longer than the history reaches: the reset surfaces, and live messages go on.
    @Test func historyTooShortSurfacesAReset() throws {
        let fixture = try PushServerFixture(history: ["short.*=10"])
        defer { fixture.stop(after: ["short.a"]) }
        let proxy = CuttingProxy(upstreamPort: fixture.port)
        defer { proxy.stop() }
        let thread = try LoopThread()
        defer { thread.stop() }
        let log = ClientLog()
        let client = try startClient(on: thread, port: proxy.port, topics: ["short.a"], log: log)
        #expect(waitUntil(seconds: 10) { log.subscribedTopics() == 1 })
        for number in 1...5 { fixture.publish("short.a", number) }
        #expect(waitUntil(seconds: 10) { log.count("short.a") == 5 })
        proxy.refuse(true)
        proxy.cut()
        #expect(waitUntil(seconds: 10) { (try? thread.sync { client.state != .open }) == true })
        for number in 6...55 { fixture.publish("short.a", number) }
        proxy.refuse(false)
        #expect(waitUntil(seconds: 10) { log.resets.withLock { $0["short.a"]?.count == 1 } })
        #expect(log.resets.withLock { $0["short.a"]?.first?.offset } == 55)
        fixture.publish("short.a", 56)
        #expect(waitUntil(seconds: 10) { log.count("short.a") == 6 })
        #expect(log.deliveries("short.a").map(\.offset) == [1, 2, 3, 4, 5, 56])
        try thread.sync { client.close() }
        proxy.stop()
        #expect(waitUntil(seconds: 10) { fixture.server.hub.status(of: "short.a").subscribers == 0 })
    }
}
