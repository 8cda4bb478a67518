import Synchronization
import Testing
import TestSupport
@testable import Reactor
@_spi(Internals) @testable import WebSocket

/// Subscribes to "news" and publishes whatever it receives there.
final class NewsSocket: WebSocket, @unchecked Sendable {
    override func didOpen() { subscribe("news") }
    override func didReceive(_ message: RawSpan, kind: MessageKind) { publish("news", message, kind: kind) }
}

/// Counts the messages it receives and checks each against the expected sequence.
final class CheckingSubscriber: WebSocket, @unchecked Sendable {
    let expected: [[UInt8]]
    let tally: Tally
    var next = 0

    init(context: WebSocketContext, expected: [[UInt8]], tally: Tally) {
        self.expected = expected
        self.tally = tally
        super.init(context: context)
    }

    override func didOpen() { tally.opened.add(1, ordering: .relaxed) }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        guard next < expected.count, message.byteArray == expected[next] else {
            tally.record(failure: "mismatch at \(next)")
            return
        }
        next += 1
        if next == expected.count { tally.record(success: true) }
    }
}

@Suite struct DeflateFanOutTests {
    @Test func publishIsCompressedOnceForAThousandSubscribers() throws {
        var configuration = deflateConfiguration { $0.serverNoContextTakeover = true }
        configuration.handshakeTimeoutMilliseconds = 60_000
        let server = try TestServer(configuration: configuration) { _ in .upgrade { NewsSocket(context: $0) } }
        defer { server.stop() }
        let client = try LoopThread()
        defer { client.stop() }
        let messages = (0..<20).map { index in Array(DeflatePayloads.compressible[index * 1024..<(index + 1) * 1024]) }
        let tally = Tally()
        let subscribers = 1_000
        let clientConfiguration = deflateConfiguration {
            $0.clientNoContextTakeover = true
            $0.serverNoContextTakeover = true
        }
        let context = try client.sync { WebSocketContext(loop: client.loop, role: .client, configuration: clientConfiguration) }
        let url = try WebSocketURL("ws://127.0.0.1:\(server.port)/topics")
        var sockets: [CheckingSubscriber] = []
        for batch in stride(from: 0, to: subscribers, by: 250) {
            sockets += try client.sync {
                try (batch..<batch + 250).map { _ in
                    let socket = CheckingSubscriber(context: context, expected: messages, tally: tally)
                    try socket.connect(to: url)
                    return socket
                }
            }
            _ = waitUntil(seconds: 60) { tally.opened.load(ordering: .relaxed) >= batch + 250 }
        }
        #expect(waitUntil(seconds: 30) { (try? server.thread.sync { server.context.subscriberCount("news") }) == subscribers })
        let publisher = sockets[0]
        try client.sync { for message in messages { publisher.send(message, kind: .text) } }
        #expect(waitUntil(seconds: 60) { tally.finished == subscribers }, "\(tally.summary(expected: subscribers))")
        #expect(tally.succeeded.load(ordering: .relaxed) == subscribers)
        let statistics = try server.thread.sync { server.context.statistics }
        #expect(statistics.topicCompressions == messages.count, "one compression per publish")
        #expect(statistics.messagesCompressed == messages.count)
        let clientStatistics = try client.sync { context.statistics }
        #expect(clientStatistics.messagesInflated == subscribers * messages.count, "every subscriber got compressed frames")
        let opened = sockets
        try client.sync { for socket in opened { socket.close() } }
    }
}
