/// The topics one connection subscribes to, kept in the connection itself
/// (`WebSocket.topicMemberships`), each with the connection's place among that topic's
/// subscribers, which lets the registry remove it in O(1).
///
/// Most subscribers (every `/topics/NAME` connection, most `/ws` ones) have exactly one
/// topic: that case is the topic's reference alone, its place in `WebSocket.topicPosition`,
/// and costs no allocation. A second subscription moves both into a list.
enum TopicMemberships {
    case one(Topic)
    case many(TopicMembershipList)
}

/// A connection's subscription to one topic and its index in the topic's subscriber array.
struct TopicMembership {
    let topic: Topic
    var position: Int
}

/// The memberships of a connection with two or more topics, in the order they were
/// subscribed. A class, so that a moved subscriber's position is updated in place.
final class TopicMembershipList {
    var entries: [TopicMembership]

    init(_ entries: [TopicMembership]) {
        self.entries = entries
    }

    func index(of topic: Topic) -> Int? {
        entries.firstIndex { $0.topic === topic }
    }
}
