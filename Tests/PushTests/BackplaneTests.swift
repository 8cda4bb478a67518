import Logging
import Reactor
import Redis
import Testing
import TestSupport
import WebSocket

@testable import Push

@Suite struct BackplaneTests {
    @Test func framesDecodeWhatTheScriptPublishes() {
        let frame = BackplaneFrame(position: StreamPosition(offset: 42, epoch: "00ab"), kind: .text, payload: Array("a b\r\n".utf8))
        #expect(frame.encoded == Array("42 00ab ta b\r\n".utf8))
        #expect(BackplaneFrame(decoding: frame.encoded) == frame)
        let binary = BackplaneFrame(position: StreamPosition(offset: 1, epoch: "e"), kind: .binary, payload: [])
        #expect(BackplaneFrame(decoding: binary.encoded) == binary)
    }

    @Test(arguments: ["", "1", "1 e", "1 e ", "x e t", "1  t", "1 e x", "-1 e t", "99999999999999999999 e t"])
    func malformedFramesAreRefused(_ text: String) {
        #expect(BackplaneFrame(decoding: Array(text.utf8)) == nil)
    }

    @Test func theScriptIsNamedByItsSHA1() {
        for script in BackplaneScript.all {
            #expect(script.sha1.count == 40)
            #expect(script.sha1.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
        #expect(BackplaneScript.publishArguments(topic: "t", body: [], newEpoch: "e", shape: .none)[1] == Array(BackplaneScript.publish.sha1.utf8))
        #expect(BackplaneScript.rangeArguments(topic: "t", first: 1, count: 0, newEpoch: "e")[1] == Array(BackplaneScript.range.sha1.utf8))
    }

    @Test func channelsNameTheirTopic() {
        #expect(BackplaneFrame.topic(ofChannel: Array("pushwave:news.eu".utf8)) == "news.eu")
        #expect(BackplaneFrame.topic(ofChannel: Array("pushwave:".utf8)) == nil)
        #expect(BackplaneFrame.topic(ofChannel: Array("other:news".utf8)) == nil)
    }

    @Test func jumpHashIsStableAndMovesFewKeys() {
        let topics = (0..<2_000).map { "topic.\($0)" }
        let four = topics.map { JumpHash.bucket(of: $0, buckets: 4) }
        let five = topics.map { JumpHash.bucket(of: $0, buckets: 5) }
        #expect(four.allSatisfy { (0..<4).contains($0) })
        #expect(topics.map { JumpHash.bucket(of: $0, buckets: 1) }.allSatisfy { $0 == 0 })
        // A fifth bucket takes about a fifth of the keys, and only keys move to it.
        let moved = zip(four, five).filter { $0 != $1 }
        #expect(moved.allSatisfy { $0.1 == 4 })
        #expect((300...500).contains(moved.count))
        #expect(JumpHash.bucket(of: "news", buckets: 10) == JumpHash.bucket(of: "news", buckets: 10))
    }

    @Test func positionsFromElsewhereAreAdoptedAndReplaysDropped() {
        let store = HistoryStore(maxBytes: 1 << 20, limits: { _ in HistoryLimits(maxCount: 10) })
        let first = store.append("t", payload: [1], isText: false, now: 0, at: StreamPosition(offset: 5, epoch: "E"))
        #expect(first?.offset == 5)
        #expect(store.position(of: "t") == StreamPosition(offset: 5, epoch: "E"))
        #expect(store.append("t", payload: [2], isText: false, now: 0, at: StreamPosition(offset: 5, epoch: "E")) == nil)
        #expect(store.append("t", payload: [3], isText: false, now: 0, at: StreamPosition(offset: 6, epoch: "E"))?.offset == 6)
        // Offsets before the first one seen were never here: not recoverable.
        guard case .notRecoverable = store.recover("t", since: StreamPosition(offset: 3, epoch: "E"), now: 0) else {
            Issue.record("recovered what this node never saw")
            return
        }
        #expect(store.recover("t", since: StreamPosition(offset: 5, epoch: "E"), now: 0) == .recovered(
            [HistoryEntry(offset: 6, publishedAt: 0, isText: false, payload: [3])], current: StreamPosition(offset: 6, epoch: "E")))
        // A new epoch (Redis lost its data) starts the stream anew.
        #expect(store.append("t", payload: [4], isText: false, now: 0, at: StreamPosition(offset: 1, epoch: "F"))?.offset == 1)
        #expect(store.position(of: "t") == StreamPosition(offset: 1, epoch: "F"))
        #expect(store.messageCount == 1)
    }

    @Test func whileRedisIsUnreachablePublicationsAreRefusedBeyondTheBound() throws {
        let thread = try LoopThread()
        weak var released: RedisBackplane?
        do {
            // A port nothing listens on: every connection attempt is refused.
            let backplane = RedisBackplane(loop: thread.loop, urls: [RedisURL(host: "127.0.0.1", port: 1)], maxPending: 3,
                                           logger: Logger(label: "test")) { _, _ in }
            released = backplane
            backplane.start()
            let accepted = (0..<5).map { _ in backplane.submit("t", payload: [1], kind: .binary) }
            #expect(accepted == [true, true, true, false, false])
            #expect(!backplane.isAvailable)
            backplane.stop()
        }
        thread.stop()
        // The publications' handlers, failed by the stop, must not keep the backplane (and
        // its connections and loop) alive.
        #expect(released == nil)
    }

    @Test func aBackplaneLeftRunningGoesWithItsLoop() throws {
        weak var released: RedisBackplane?
        do {
            let thread = try LoopThread()
            let backplane = RedisBackplane(loop: thread.loop, urls: [RedisURL(host: "127.0.0.1", port: 1)], maxPending: 3,
                                           logger: Logger(label: "test")) { _, _ in }
            released = backplane
            backplane.start()
            #expect(backplane.submit("t", payload: [1], kind: .binary))
            // No stop: the publication stays queued in a connection when the loop shuts down.
            thread.stop()
        }
        #expect(released == nil)
    }
}

@Suite struct StreamReplyTests {
    private func entry(_ offset: UInt64, _ body: String, epoch: String = "E", time: Int64 = 1_000) -> RESPValue {
        .array([.bulk(Array("\(offset)-0".utf8)), .array([
            .bulk(Array("d".utf8)), .bulk(Array(body.utf8)), .bulk(Array("e".utf8)), .bulk(Array(epoch.utf8)),
            .bulk(Array("t".utf8)), .bulk(Array(String(time).utf8)),
        ])])
    }

    private func reply(offset: Int64, _ entries: [RESPValue]) -> RESPValue {
        .array([.bulk(Array("E".utf8)), .integer(offset), .integer(2_000), .array(entries)])
    }

    @Test func aReplyOfTheRangeScriptIsRead() throws {
        let range = try StreamRange(parsing: reply(offset: 3, [entry(2, "ta"), entry(3, "b\u{1}")]), first: 2)
        #expect(range.position == StreamPosition(offset: 3, epoch: "E"))
        #expect(range.now == 2_000)
        #expect(range.entries == [
            StreamRange.Entry(offset: 2, epoch: "E", publishedAt: 1_000, kind: .text, payload: Array("a".utf8)),
            StreamRange.Entry(offset: 3, epoch: "E", publishedAt: 1_000, kind: .binary, payload: [1]),
        ])
    }

    @Test(arguments: [
        RESPValue.null, .array([]), .error("NOSCRIPT"),
        .array([.null, .integer(1), .integer(0), .array([])]),  // no epoch
        .array([.bulk(Array("a b".utf8)), .integer(1), .integer(0), .array([])]),  // a space in the epoch
        .array([.bulk(Array("E".utf8)), .integer(-1), .integer(0), .array([])]),
        .array([.bulk(Array("E".utf8)), .integer(1), .integer(0), .bulk([])]),
    ])
    func repliesOfAnotherShapeAreRefused(_ value: RESPValue) {
        #expect(throws: StreamRange.Malformed.self) { try StreamRange(parsing: value, first: 1) }
    }

    @Test func entriesThatLieAboutTheirOffsetsAreRefused() {
        // Out of order, before the first asked for, beyond the topic's offset, a bad id or kind.
        for entries in [[entry(3, "ta"), entry(2, "tb")], [entry(1, "ta")], [entry(9, "ta")], [entry(2, "xa")], [entry(2, "ta"), entry(2, "ta")]] {
            #expect(throws: StreamRange.Malformed.self) { try StreamRange(parsing: reply(offset: 5, entries), first: 2) }
        }
        let badID = RESPValue.array([.bulk(Array("2-1".utf8)), .array([])])
        #expect(throws: StreamRange.Malformed.self) { try StreamRange(parsing: reply(offset: 5, [badID]), first: 2) }
    }

    @Test func arrivalsAreClassified() {
        let local = StreamPosition(offset: 5, epoch: "E")
        #expect(Arrival(StreamPosition(offset: 6, epoch: "E"), after: local) == .next)
        #expect(Arrival(StreamPosition(offset: 5, epoch: "E"), after: local) == .replay)
        #expect(Arrival(StreamPosition(offset: 1, epoch: "E"), after: local) == .replay)
        #expect(Arrival(StreamPosition(offset: 9, epoch: "E"), after: local) == .gap(missing: 6...8))
        #expect(Arrival(StreamPosition(offset: 6, epoch: "F"), after: local) == .newEpoch)
    }

    @Test func aRecoveryJoinsTheStreamAndTheLocalHistory() throws {
        let store = HistoryStore(maxBytes: 1 << 20, limits: { _ in HistoryLimits(maxCount: 10) })
        // The node has 4...6 locally; the stream read gave 2...5 (read before 6 arrived).
        store.restart("t", at: StreamPosition(offset: 3, epoch: "E"), with: [])
        for offset in UInt64(4)...6 { _ = store.append("t", payload: [UInt8(offset)], isText: false, now: 0, at: StreamPosition(offset: offset, epoch: "E")) }
        let range = try StreamRange(parsing: reply(offset: 5, (2...5).map { entry(UInt64($0), "b\u{0}") }), first: 2)
        let recovery = range.recovery(since: StreamPosition(offset: 1, epoch: "E"), topic: "t", local: store, limits: HistoryLimits(maxCount: 10), now: 0)
        guard case .recovered(let missed, let current) = recovery else {
            Issue.record("not recovered: \(recovery)")
            return
        }
        #expect(missed.map(\.offset) == [2, 3, 4, 5, 6])
        #expect(current == StreamPosition(offset: 6, epoch: "E"))
        // Another epoch, too far back for the count limit, or too old: not recoverable.
        let elsewhere = range.recovery(since: StreamPosition(offset: 1, epoch: "F"), topic: "t", local: store, limits: HistoryLimits(maxCount: 10), now: 0)
        #expect(elsewhere == .notRecoverable(current: current))
        let tooFar = range.recovery(since: StreamPosition(offset: 1, epoch: "E"), topic: "t", local: store, limits: HistoryLimits(maxCount: 3), now: 0)
        #expect(tooFar == .notRecoverable(current: current))
        let tooOld = range.recovery(since: StreamPosition(offset: 1, epoch: "E"), topic: "t", local: store,
                                    limits: HistoryLimits(maxCount: 10, maxAgeMilliseconds: 500), now: 0)
        #expect(tooOld == .notRecoverable(current: current))
    }

    @Test func aSyncKeepsOnlyTheTailThatReachesTheCurrentOffset() throws {
        let range = try StreamRange(parsing: reply(offset: 6, [entry(1, "ta"), entry(3, "tb"), entry(4, "tc", epoch: "old"), entry(5, "td"), entry(6, "te")]), first: 0)
        #expect(range.currentTail(now: 10_000).map(\.offset) == [5, 6])
        #expect(range.currentTail(now: 10_000).first?.publishedAt == 9_000)
    }
}
