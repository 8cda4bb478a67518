import Testing

@testable import Push

@Suite struct HistoryStoreTests {
    static func store(_ rules: [HistoryRule], maxBytes: Int = 1 << 30) -> HistoryStore {
        var epochs = 0
        return HistoryStore(maxBytes: maxBytes, limits: { HistoryRule.limits(for: $0, in: rules) }) {
            epochs += 1
            return "epoch\(epochs)"
        }
    }

    static func publish(_ store: HistoryStore, _ topic: String, count: Int, now: Int64 = 0) {
        for index in 0..<count { _ = store.append(topic, payload: Array("m\(index)".utf8), isText: true, now: now) }
    }

    @Test func offsetsStartAtOneAndFollowEachOtherPerTopic() {
        let store = Self.store([])
        #expect(store.position(of: "a") == StreamPosition(offset: 0, epoch: "epoch1"))
        #expect(store.append("a", payload: [1], isText: false, now: 0).offset == 1)
        #expect(store.append("a", payload: [2], isText: false, now: 0).offset == 2)
        #expect(store.append("b", payload: [3], isText: false, now: 0).offset == 1)
        #expect(store.position(of: "a").offset == 2)
        // No rule: offsets, but nothing kept.
        #expect(store.messageCount == 0)
    }

    @Test func recoveryReturnsExactlyTheMissedMessagesInOrder() {
        let store = Self.store([HistoryRule(pattern: .prefix("news."), limits: HistoryLimits(maxCount: 100))])
        Self.publish(store, "news.eu", count: 10)
        let epoch = store.position(of: "news.eu").epoch
        for seen in 0...10 {
            guard case .recovered(let missed, let current) = store.recover("news.eu", since: StreamPosition(offset: UInt64(seen), epoch: epoch), now: 0) else {
                Issue.record("not recovered from \(seen)")
                continue
            }
            #expect(missed.map(\.offset) == (seen..<10).map { UInt64($0 + 1) })
            #expect(missed.map { String(decoding: $0.payload, as: UTF8.self) } == (seen..<10).map { "m\($0)" })
            #expect(current.offset == 10)
        }
    }

    @Test func aPositionBeyondTheHistoryOrInAnotherEpochIsNotRecoverable() {
        let store = Self.store([HistoryRule(pattern: .exact("t"), limits: HistoryLimits(maxCount: 5))])
        Self.publish(store, "t", count: 20)
        let epoch = store.position(of: "t").epoch
        // Kept: 16...20. From 15 on, every missed message is there.
        #expect(store.recover("t", since: StreamPosition(offset: 15, epoch: epoch), now: 0) != .notRecoverable(current: store.position(of: "t")))
        #expect(store.recover("t", since: StreamPosition(offset: 14, epoch: epoch), now: 0) == .notRecoverable(current: StreamPosition(offset: 20, epoch: epoch)))
        #expect(store.recover("t", since: StreamPosition(offset: 20, epoch: "other"), now: 0) == .notRecoverable(current: StreamPosition(offset: 20, epoch: epoch)))
        // A position from the future (a restarted server's old epoch, say) is not trusted.
        #expect(store.recover("t", since: StreamPosition(offset: 21, epoch: epoch), now: 0) == .notRecoverable(current: StreamPosition(offset: 20, epoch: epoch)))
        #expect(store.messageCount == 5)
    }

    @Test func theAgeLimitDropsOldMessages() {
        let store = Self.store([HistoryRule(pattern: .all, limits: HistoryLimits(maxAgeMilliseconds: 1_000))])
        Self.publish(store, "t", count: 3, now: 0)
        Self.publish(store, "t", count: 3, now: 900)
        let epoch = store.position(of: "t").epoch
        guard case .recovered(let missed, _) = store.recover("t", since: StreamPosition(offset: 3, epoch: epoch), now: 1_500) else {
            Issue.record("the three younger messages should be recoverable")
            return
        }
        #expect(missed.map(\.offset) == [4, 5, 6])
        #expect(store.recover("t", since: StreamPosition(offset: 2, epoch: epoch), now: 1_500) == .notRecoverable(current: StreamPosition(offset: 6, epoch: epoch)))
        #expect(store.messageCount == 3)
    }

    @Test func theGlobalBudgetDropsTheOldestMessagesOfTheWholeStoreFirst() {
        // "mN" payloads for N < 10, kept in their envelopes: all of one size for these topics.
        let entryCost = Envelope.textMessage(topic: "old", offset: 1, payload: Array("m0".utf8)).bytes.count + HistoryEntry.overhead
        let store = Self.store([HistoryRule(pattern: .all, limits: HistoryLimits(maxCount: 1_000))], maxBytes: 10 * entryCost)
        Self.publish(store, "old", count: 5)
        Self.publish(store, "new", count: 8)
        #expect(store.bytes <= store.maxBytes)
        #expect(store.messageCount == 10)
        #expect(store.messagesTrimmedEarly == 3)
        let old = store.position(of: "old")
        // "old" lost its first three messages, "new" none.
        #expect(store.recover("old", since: StreamPosition(offset: 3, epoch: old.epoch), now: 0) != .notRecoverable(current: old))
        #expect(store.recover("old", since: StreamPosition(offset: 2, epoch: old.epoch), now: 0) == .notRecoverable(current: old))
        let new = store.position(of: "new")
        #expect(store.recover("new", since: StreamPosition(offset: 0, epoch: new.epoch), now: 0) != .notRecoverable(current: new))
    }

    @Test func staleRecordsDoNotAccumulate() {
        // Two topics kept by count; one quiet topic keeps an old message at the front of the
        // append order while the busy one turns over a million times its limit.
        let store = Self.store([HistoryRule(pattern: .all, limits: HistoryLimits(maxCount: 10))])
        Self.publish(store, "quiet", count: 1)
        Self.publish(store, "busy", count: 100_000)
        #expect(store.messageCount == 11)
        #expect(store.appendOrderCount <= 4 * 11 + 4096 + 1, "stale records are compacted away")
        // Each kept in its envelope: message number N has the offset N + 1.
        let cost = { (topic: String, number: Int) in
            Envelope.textMessage(topic: topic, offset: UInt64(number + 1), payload: Array("m\(number)".utf8)).bytes.count + HistoryEntry.overhead
        }
        let costs = cost("quiet", 0) + (99_990..<100_000).reduce(0) { $0 + cost("busy", $1) }
        #expect(store.bytes == costs)
        let recount = ["quiet", "busy"].reduce(0) { total, topic in
            guard case .recovered(let missed, _) = store.recover(topic, since: StreamPosition(offset: 0, epoch: store.position(of: topic).epoch), now: 0) else {
                return total + (topic == "busy" ? 10 : 0)
            }
            return total + missed.count
        }
        #expect(recount == 11)
    }

    @Test func anIdleTopicWithNothingKeptIsForgottenAndComesBackInANewEpoch() {
        let store = Self.store([])
        Self.publish(store, "t", count: 3)
        let before = store.position(of: "t")
        store.forget("t")
        #expect(store.topicCount == 0)
        let after = store.position(of: "t")
        #expect(after.offset == 0)
        #expect(after.epoch != before.epoch)
    }

    @Test func rulesParseCountAndAgeInEitherOrder() throws {
        #expect(try HistoryRule(parsing: "news.*=1000,300s") == HistoryRule(pattern: .prefix("news."), limits: HistoryLimits(maxCount: 1000, maxAgeMilliseconds: 300_000)))
        #expect(try HistoryRule(parsing: "chat=10m").limits == HistoryLimits(maxAgeMilliseconds: 600_000))
        #expect(try HistoryRule(parsing: "*=5").limits == HistoryLimits(maxCount: 5))
        #expect(try HistoryRule(parsing: "a=2h,7").limits == HistoryLimits(maxCount: 7, maxAgeMilliseconds: 7_200_000))
        for bad in ["news", "=5", "a=", "a=5,6", "a=1s,2s", "a=-1", "a=5x", "a=0s"] {
            #expect(throws: HistoryRule.SyntaxError.self, "\(bad)") { try HistoryRule(parsing: bad) }
        }
        let rules = [try HistoryRule(parsing: "news.eu=1"), try HistoryRule(parsing: "news.*=2"), try HistoryRule(parsing: "*=3")]
        #expect(HistoryRule.limits(for: "news.eu", in: rules).maxCount == 1)
        #expect(HistoryRule.limits(for: "news.us", in: rules).maxCount == 2)
        #expect(HistoryRule.limits(for: "newsroom", in: rules).maxCount == 3)
        #expect(HistoryRule.limits(for: "x", in: []) == .none)
    }
}
