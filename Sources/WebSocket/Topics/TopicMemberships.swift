/// The topics one connection subscribes to, as the registry keeps them.
///
/// Most subscribers (every `/topics/NAME` connection, most `/ws` ones) have exactly one
/// topic: that case is the topic's reference alone, where an array would cost a heap block
/// of 48 bytes per connection. A second subscription turns it into an array.
enum TopicMemberships {
    case one(Topic)
    case many([Topic])

    /// The same memberships with `topic` added (the caller knows it was not there).
    func adding(_ topic: Topic) -> TopicMemberships {
        switch self {
        case .one(let first):
            return .many([first, topic])
        case .many(var topics):
            topics.append(topic)
            return .many(topics)
        }
    }

    /// The memberships without `topic`; nil when none is left.
    func removing(_ topic: Topic) -> TopicMemberships? {
        switch self {
        case .one(let only):
            return only === topic ? nil : self
        case .many(var topics):
            topics.removeAll { $0 === topic }
            switch topics.count {
            case 0: return nil
            case 1: return .one(topics[0])
            default: return .many(topics)
            }
        }
    }

    /// Calls `body` with each topic, in the order they were subscribed.
    func forEach(_ body: (Topic) -> Void) {
        switch self {
        case .one(let topic): body(topic)
        case .many(let topics): topics.forEach(body)
        }
    }
}
