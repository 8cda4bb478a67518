/// One command of a `/ws` client (see PROTOCOL.md next to this file).
enum Command: Equatable {
    case subscribe(topic: String, since: StreamPosition?)
    case unsubscribe(topic: String)
    case publish(topic: String, data: JSON)
    /// A new token for the connection, before the old one expires.
    case refresh(token: String)

    /// Reads a command and its optional `"id"` from the bytes of a text frame.
    static func parse(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits) -> (command: Result<Command, CommandError>, id: JSON?) {
        guard let object = try? JSON(parsing: bytes, limits: limits) else {
            return (.failure(bytes.count > limits.maximumBytes ? .tooLarge : .badCommand("not a JSON object")), nil)
        }
        guard case .object = object else { return (.failure(.badCommand("not a JSON object")), nil) }
        return (parse(object), object["id"])
    }

    private static func parse(_ object: JSON) -> Result<Command, CommandError> {
        guard let op = object["op"]?.stringValue else { return .failure(.badCommand("\"op\" is missing")) }
        switch op {
        case "subscribe":
            return topic(object).flatMap { topic in since(object["since"]).map { .subscribe(topic: topic, since: $0) } }
        case "unsubscribe":
            return topic(object).map { .unsubscribe(topic: $0) }
        case "publish":
            guard let data = object["data"] else { return .failure(.badCommand("\"data\" is missing")) }
            return topic(object).map { .publish(topic: $0, data: data) }
        case "refresh":
            guard let token = object["token"]?.stringValue else { return .failure(.badCommand("\"token\" is missing")) }
            return .success(.refresh(token: token))
        default:
            return .failure(.badCommand("unknown op \"\(op)\""))
        }
    }

    private static func topic(_ object: JSON) -> Result<String, CommandError> {
        guard let topic = object["topic"]?.stringValue else { return .failure(.badCommand("\"topic\" is missing")) }
        guard TopicName.isValid(topic) else { return .failure(.invalidTopic) }
        return .success(topic)
    }

    private static func since(_ value: JSON?) -> Result<StreamPosition?, CommandError> {
        guard let value else { return .success(nil) }
        guard let offset = value["offset"]?.intValue, offset >= 0, let epoch = value["epoch"]?.stringValue else {
            return .failure(.badCommand("\"since\" needs an \"offset\" (a number ≥ 0) and an \"epoch\" (a string)"))
        }
        return .success(StreamPosition(offset: UInt64(offset), epoch: epoch))
    }
}

/// Why a command failed: the code and reason of the `error` reply.
enum CommandError: Error, Equatable {
    case badCommand(String)
    case invalidTopic
    case notAllowed
    case notSubscribed
    case tooManySubscriptions
    case tooLarge
    /// A publication refused because Redis is unreachable and too many wait for it.
    case unavailable

    var code: Int {
        switch self {
        case .badCommand: 4000
        case .invalidTopic: 4001
        case .notAllowed: 4003
        case .notSubscribed: 4004
        case .tooManySubscriptions: 4009
        case .tooLarge: 4013
        case .unavailable: 4503
        }
    }

    var reason: String {
        switch self {
        case .badCommand(let why): "bad command: \(why)"
        case .invalidTopic: "invalid topic name"
        case .notAllowed: "not allowed by the connection's token"
        case .notSubscribed: "not subscribed"
        case .tooManySubscriptions: "too many subscriptions on this connection"
        case .tooLarge: "command too large"
        case .unavailable: "Redis is unavailable; try again later"
        }
    }
}
