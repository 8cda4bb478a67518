@testable import Push
import Reactor
import Synchronization
import Testing
import TestSupport
import WebSocket

/// A server that answers the first subscribe with garbage, then a valid stream with a repeat
/// and a gap; on the next connection it checks the `since` and sends what was missed.
final class MisbehavingSocket: WebSocket, @unchecked Sendable {
    static let connections = Atomic<Int>(0)
    static let commands = Mutex<[JSON]>([])

    override func didOpen() { Self.connections.add(1, ordering: .relaxed) }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        guard let command = try? message.withUnsafeBytes({ try JSON(parsing: $0) }) else { return }
        Self.commands.withLock { $0.append(command) }
        let id = command["id"] ?? .null
        if command["since"] == nil { firstConnection(id) } else { secondConnection(id) }
    }

    private func firstConnection(_ id: JSON) {
        let garbage = [
            "not json", "[1,2,3]", #"{"op":"subscribed","topic":"x"}"#, #"{"op":"message","topic":"x","offset":-1,"data":1}"#,
            #"{"op":"message","topic":"x","offset":"1","data":1}"#, #"{"op":"message","topic":"x","offset":1.5,"data":1}"#,
            #"{"op":"message","offset":1,"data":1}"#, #"{"op":"error"}"#, #"{"op":"surprise"}"#, #"{"op":7}"#,
            #"{"op":"message","topic":"x","offset":99999999999999999999999,"data":1}"#,
            String(repeating: "[", count: 500) + String(repeating: "]", count: 500),
        ]
        for text in garbage { send(text: text) }
        send([0x02, 1, 2, 3], kind: .binary)
        send([0x01, 0, 0, 0, 0, 0, 0, 0, 1, 200, 65], kind: .binary)  // the topic runs past the end
        send(text: #"{"op":"subscribed","id":\#(id.serialized),"topic":"x","offset":0,"epoch":"e","recovered":false}"#)
        for offset in [1, 2, 1, 2] { send(text: #"{"op":"message","topic":"x","offset":\#(offset),"data":\#(offset)}"#) }
        send(text: #"{"op":"message","topic":"x","offset":5,"data":5}"#)  // 3 and 4 are missing
    }

    private func secondConnection(_ id: JSON) {
        send(text: #"{"op":"subscribed","id":\#(id.serialized),"topic":"x","offset":5,"epoch":"e","recovered":true}"#)
        for offset in 3...6 { send(text: #"{"op":"message","topic":"x","offset":\#(offset),"data":\#(offset)}"#) }
    }
}

@Suite struct PushClientBadServerTests {
    @Test func malformedRepliesAreIgnoredAndAGapIsRecovered() throws {
        let group = try EventLoopGroup(count: 1)
        let server = WebSocketServer { _ in .upgrade { MisbehavingSocket(context: $0) } }
        let address = try server.listen(on: group.loops, address: SocketAddress(host: "127.0.0.1", port: 0))
        try group.start { _ in }
        defer { group.stop(); group.wait() }
        let thread = try LoopThread()
        defer { thread.stop() }
        let log = ClientLog()
        let client = try startClient(on: thread, port: address.port, topics: ["x"], log: log)
        #expect(waitUntil(seconds: 10) { log.count("x") == 6 })
        #expect(log.deliveries("x") == (1...6).map { .init(offset: UInt64($0), data: .int($0)) })
        let since = MisbehavingSocket.commands.withLock { $0.last?["since"] }
        #expect(since == .object([("offset", .int(2)), ("epoch", .string("e"))]))
        let counters = try thread.sync { (client.malformedReplies, client.gapsDetected) }
        #expect(counters.0 == 13)  // the unknown op is ignored without counting
        #expect(counters.1 == 1)
        #expect(MisbehavingSocket.connections.load(ordering: .relaxed) == 2)
        try thread.sync { client.close() }
    }
}

@Suite struct PushClientUnitTests {
    @Test func backoffDoublesUpToTheCapWithJitterInTheUpperHalf() {
        var backoff = Backoff(baseMilliseconds: 500, capMilliseconds: 10_000)
        #expect(backoff.nextDelay(unit: 0) == 250)
        #expect(backoff.nextDelay(unit: 0.999_999) == 999)
        #expect(backoff.nextDelay(unit: 0.5) == 1500)
        for _ in 0..<40 { _ = backoff.nextDelay(unit: 1) }
        #expect(backoff.nextDelay(unit: 1) == 10_000)
        backoff.reset()
        #expect(backoff.nextDelay(unit: 0) == 250)
    }

    @Test func repliesParseAndMalformedOnesAreNil() {
        func parse(_ text: String) -> ServerReply? {
            Array(text.utf8).withUnsafeBytes { ServerReply.parse(text: $0, limits: .default) }
        }
        #expect(parse(#"{"op":"message","topic":"a","offset":3,"data":{"k":[1]}}"#)
            == .message(topic: "a", offset: 3, data: .object([("k", .array([.int(1)]))])))
        #expect(parse(#"{"op":"subscribed","topic":"a","offset":0,"epoch":"E","recovered":true}"#)
            == .subscribed(topic: "a", position: StreamPosition(offset: 0, epoch: "E"), recovered: true, id: nil))
        #expect(parse(#"{"op":"published","id":4,"topic":"a"}"#) == .published(topic: "a", offset: nil, id: .int(4)))
        #expect(parse(#"{"op":"error","code":4003,"reason":"no"}"#) == .error(code: 4003, reason: "no", id: nil))
        #expect(parse(#"{"op":"new-thing"}"#) == .other(op: "new-thing"))
        for bad in ["", "{", "null", #"{"op":"subscribed","topic":"a","offset":0,"epoch":"E"}"#, #"{"op":"message","topic":"a","offset":1}"#] {
            #expect(parse(bad) == nil)
        }
        let frame: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0x61, 0x62, 9, 8]
        #expect(frame.withUnsafeBytes { ServerReply.parse(binary: $0) } == .binaryMessage(topic: "ab", offset: 256, payload: [9, 8]))
        #expect([UInt8]([1, 0, 0]).withUnsafeBytes { ServerReply.parse(binary: $0) } == nil)
    }
}
