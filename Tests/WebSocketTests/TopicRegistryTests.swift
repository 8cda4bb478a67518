import Reactor
import Testing
@testable import WebSocket

/// The registry keeps each subscriber's index in a topic with the subscriber
/// (`WebSocket.topicMemberships`), and moves the last subscriber into a removed one's place:
/// these tests check, after every step of a long random sequence, that each kept index
/// still points at its connection and that the registry agrees with a plain model.
@Suite struct TopicRegistryTests {
    @Test func membershipsFollowEverySubscribeUnsubscribeAndClose() throws {
        let loop = try EventLoop()
        let context = WebSocketContext(loop: loop, role: .server)
        let registry = context.topics
        let sockets = (0..<40).map { _ in WebSocket(context: context) }
        let names = (0..<6).map { "topic-\($0)" }
        var model: [Set<String>] = Array(repeating: [], count: sockets.count)
        var random = SplitMix64(seed: 0x5eed)
        for step in 0..<20_000 {
            let index = Int(random.next() % UInt64(sockets.count))
            let name = names[Int(random.next() % UInt64(names.count))]
            let socket = sockets[index]
            switch random.next() % 10 {
            case 0..<5:
                let first = registry.subscriberCount(name) == 0
                let isFirst = registry.subscribe(socket, to: name)
                let wasNew = model[index].insert(name).inserted
                #expect(isFirst == (wasNew && first), "step \(step)")
            case 5..<9:
                let wasLast = registry.unsubscribe(socket, from: name)
                let removed = model[index].remove(name) != nil
                #expect(wasLast == (removed && registry.subscriberCount(name) == 0), "step \(step)")
            default:
                var emptied: [String] = []
                registry.unsubscribeAll(socket) { emptied.append($0) }
                let had = model[index]
                model[index] = []
                #expect(Set(emptied) == had.filter { name in registry.subscriberCount(name) == 0 }, "step \(step)")
            }
            let consistent = Self.consistent(sockets, model, names, registry)
            try #require(consistent, "step \(step)")
        }
        // A subscribed connection and its topics hold each other until it closes.
        for socket in sockets { registry.unsubscribeAll(socket) { _ in } }
        #expect(registry.topicCount == 0)
    }

    @Test func aSecondTopicAndBackKeepsTheOneTopicForm() throws {
        let loop = try EventLoop()
        let context = WebSocketContext(loop: loop, role: .server)
        let socket = WebSocket(context: context)
        #expect(context.topics.subscribe(socket, to: "a"))
        #expect(!context.topics.subscribe(socket, to: "a"), "subscribing twice is one subscription")
        #expect(context.topics.subscribe(socket, to: "b"))
        guard case .many = socket.topicMemberships else {
            Issue.record("two topics are a list")
            return
        }
        #expect(context.topics.unsubscribe(socket, from: "a"))
        guard case .one(let topic) = socket.topicMemberships else {
            Issue.record("one topic left is the one-topic form")
            return
        }
        #expect(topic.name == "b")
        #expect(context.topics.unsubscribe(socket, from: "b"))
        #expect(socket.topicMemberships == nil)
        #expect(context.topics.topicCount == 0)
    }

    /// Every subscriber's kept index points at it, and the subscriber sets match the model.
    private static func consistent(_ sockets: [WebSocket], _ model: [Set<String>], _ names: [String], _ registry: TopicRegistry) -> Bool {
        for (index, socket) in sockets.enumerated() {
            var topics: [(Topic, Int)] = []
            switch socket.topicMemberships {
            case nil: break
            case .one(let topic): topics = [(topic, Int(socket.topicPosition))]
            case .many(let list):
                guard list.entries.count >= 2 else { return false }
                topics = list.entries.map { ($0.topic, $0.position) }
            }
            guard Set(topics.map(\.0.name)) == model[index], topics.count == model[index].count else { return false }
            for (topic, position) in topics {
                guard position < topic.subscribers.count, topic.subscribers[position] === socket else { return false }
            }
        }
        for name in names {
            let expected = model.filter { $0.contains(name) }.count
            guard registry.subscriberCount(name) == expected else { return false }
        }
        return registry.topicCount == names.filter { name in model.contains { $0.contains(name) } }.count
    }
}
