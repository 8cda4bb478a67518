import HTTP
import WebSocket

/// The HTTP API of a push server, for an application's backend:
///
/// - `POST /api/publish/NAME`: the body is the message. `Content-Type` `text/*` or
///   `application/json` publish a text message (the body must be UTF-8: else 400), any
///   other type a binary one. Answers `{"topic":…,"offset":N,"epoch":…,"subscribers":N}`;
///   with a Redis backplane 202 `{"topic":…,"forwarded":true}`, or 503 while Redis is
///   unreachable and too many publications wait for it.
/// - `POST /api/broadcast?topic=A&topic=B`: the same body to every named topic (at most
///   100). Answers `{"results":[…]}`, one object as above per topic, in order.
/// - `GET /api/topics/NAME`: `{"topic":…,"offset":N,"epoch":…,"subscribers":N}`.
///
/// Every call needs `Authorization: Bearer KEY` with a configured key: 401 (with
/// `WWW-Authenticate: Bearer`) without or with a wrong one, 403 for everything while no key
/// is configured. A body larger than the server's limit is refused with 413 before it is
/// read.
struct PublishAPI: Sendable {
    let hub: TopicHub
    let keys: APIKeys
    static let maxBroadcastTopics = 100

    func respond(to request: ServerRequest) -> ServerResponse {
        if let refusal = authorizationRefusal(request.head) { return refusal }
        let path = request.head.path
        if path.hasPrefix("/api/publish/") {
            guard request.head.method == "POST" else { return .methodNotAllowed(allowing: ["POST"]) }
            return publish(to: [String(path.dropFirst("/api/publish/".count))], request, single: true)
        }
        if path == "/api/broadcast" {
            guard request.head.method == "POST" else { return .methodNotAllowed(allowing: ["POST"]) }
            let topics = QueryParameters.values("topic", in: request.head.query)
            guard !topics.isEmpty, topics.count <= Self.maxBroadcastTopics else {
                return Self.error(400, "name 1 to \(Self.maxBroadcastTopics) topics as ?topic=A&topic=B")
            }
            return publish(to: topics, request, single: false)
        }
        if path.hasPrefix("/api/topics/") {
            guard request.head.method == "GET" || request.head.method == "HEAD" else { return .methodNotAllowed(allowing: ["GET", "HEAD"]) }
            let topic = String(path.dropFirst("/api/topics/".count))
            guard TopicName.isValid(topic) else { return Self.error(400, "invalid topic name") }
            let (position, subscribers) = hub.status(of: topic)
            return Self.json(200, Self.result(topic, position, subscribers))
        }
        return Self.error(404, "no such API")
    }

    private func authorizationRefusal(_ head: HTTPRequestHead) -> ServerResponse? {
        guard !keys.isEmpty else { return Self.error(403, "the publish API is disabled: no API key is configured") }
        guard var header = head.value("Authorization"), header.utf8.count > 7,
            header.withUTF8({ Self.startsIgnoringASCIICase($0, with: "bearer ") }),
            keys.accepts(String(Substring(header.utf8.dropFirst(7))))
        else {
            return .http(
                status: 401, headers: [("Content-Type", "application/json"), ("WWW-Authenticate", "Bearer")],
                body: Array(#"{"error":"a valid API key is required (Authorization: Bearer KEY)"}"#.utf8))
        }
        return nil
    }

    private func publish(to topics: [String], _ request: ServerRequest, single: Bool) -> ServerResponse {
        guard topics.allSatisfy(TopicName.isValid) else { return Self.error(400, "invalid topic name") }
        let kind = Self.kind(of: request.head.value("Content-Type"))
        if kind == .text, String(validating: request.body, as: UTF8.self) == nil {
            return Self.error(400, "a text message (text/* or application/json) must be valid UTF-8")
        }
        let outcomes = topics.map { hub.submit($0, payload: request.body, kind: kind) }
        let results = zip(topics, outcomes).map { Self.result($0, $1) }
        let status: HTTPStatus = outcomes.contains(.refused) ? 503 : outcomes.contains(.forwarded) ? 202 : 200
        return Self.json(status, single ? results[0] : .object([("results", .array(results))]))
    }

    /// With a Redis backplane the position is assigned in Redis, after this answer: a
    /// forwarded publication answers `{"topic":…,"forwarded":true}` (202).
    static func result(_ topic: String, _ outcome: PublishOutcome) -> JSON {
        switch outcome {
        case .published(let position, let subscribers): result(topic, position, subscribers)
        case .forwarded: .object([("topic", .string(topic)), ("forwarded", .bool(true))])
        case .refused: .object([("topic", .string(topic)), ("error", .string("Redis is unavailable; try again later"))])
        }
    }

    /// `text/*` and `application/json` (with any parameters) are text; anything else binary.
    /// Compares bytes, without building lowercased strings: it runs on every publish.
    static func kind(of contentType: String?) -> MessageKind {
        guard var contentType else { return .binary }
        let isText = contentType.withUTF8 { bytes in
            // The media type: up to the first ";", without the white space around it.
            var start = 0
            var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
            while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
            let mediaType = UnsafeBufferPointer(rebasing: bytes[start..<end])
            return startsIgnoringASCIICase(mediaType, with: "text/")
                || (mediaType.count == "application/json".utf8.count && startsIgnoringASCIICase(mediaType, with: "application/json"))
        }
        return isText ? .text : .binary
    }

    /// Whether `bytes` begin with `prefix` (lowercase ASCII), ignoring ASCII case.
    static func startsIgnoringASCIICase(_ bytes: UnsafeBufferPointer<UInt8>, with prefix: StaticString) -> Bool {
        guard bytes.count >= prefix.utf8CodeUnitCount else { return false }
        return prefix.withUTF8Buffer { expected in
            for index in 0..<expected.count {
                let byte = bytes[index]
                if (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) != expected[index] { return false }
            }
            return true
        }
    }

    static func result(_ topic: String, _ position: StreamPosition, _ subscribers: Int) -> JSON {
        .object([
            ("topic", .string(topic)), ("offset", .int(Int(clamping: position.offset))), ("epoch", .string(position.epoch)),
            ("subscribers", .int(subscribers)),
        ])
    }

    static func json(_ status: HTTPStatus, _ value: JSON) -> ServerResponse {
        var body = value.serializedBytes
        body.append(UInt8(ascii: "\n"))
        return .http(status: status, headers: [("Content-Type", "application/json")], body: body)
    }

    static func error(_ status: HTTPStatus, _ message: String) -> ServerResponse {
        json(status, .object([("error", .string(message))]))
    }
}
