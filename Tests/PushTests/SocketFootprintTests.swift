import CEpollShim
import Reactor
import Testing
import WebSocket
@testable import Push

/// What an idle push connection costs: its one object. The fields a push socket adds to
/// `WebSocket` (148 bytes) decide which allocator block it lands in (16-byte steps).
@Suite struct SocketFootprintTests {
    @Test func rawTopicAndPushSocketsFitA176ByteBlock() throws {
        let loop = try EventLoop()
        let context = WebSocketContext(loop: loop, role: .server)
        let endpoint = Self.endpoint()
        let raw = RawTopicSocket(context: context, topic: "a-topic-name-longer-than-15", endpoint: endpoint, token: nil)
        let push = PushSocket(context: context, access: PushAccess.tokenless(endpoint))
        #expect(pw_allocation_size(Unmanaged.passUnretained(raw).toOpaque()) <= 168)
        #expect(pw_allocation_size(Unmanaged.passUnretained(push).toOpaque()) <= 168)
    }

    /// The raw connections to a topic share one route (name and endpoint), taken when a
    /// connection is made and given back when it goes away, opened or not.
    @Test func rawConnectionsToATopicShareOneRouteUntilTheLastGoes() throws {
        let loop = try EventLoop()
        let context = WebSocketContext(loop: loop, role: .server)
        let endpoint = Self.endpoint()
        let routes = endpoint.rawTopicRoutes
        var first: RawTopicSocket? = RawTopicSocket(context: context, topic: "news.sports.football", endpoint: endpoint, token: nil)
        var second: RawTopicSocket? = RawTopicSocket(context: context, topic: "news.sports.football", endpoint: endpoint, token: nil)
        var other: RawTopicSocket? = RawTopicSocket(context: context, topic: "weather", endpoint: endpoint, token: nil)
        #expect(routes.holders(of: "news.sports.football") == 2)
        #expect(routes.holders(of: "weather") == 1)
        let a = routes.take("news.sports.football", endpoint: endpoint)
        let b = routes.take("news.sports.football", endpoint: endpoint)
        #expect(a === b)
        routes.giveBack(a)
        routes.giveBack(b)
        first = nil
        #expect(routes.holders(of: "news.sports.football") == 1)
        second = nil
        other = nil
        #expect(routes.holders(of: "news.sports.football") == 0)
        #expect(routes.holders(of: "weather") == 0)
        _ = (first, second, other)
    }

    private static func endpoint() -> PushEndpoint {
        let hub = TopicHub(history: HistoryStore(maxBytes: 1 << 20, limits: { _ in HistoryLimits() }))
        return PushEndpoint(hub: hub, configuration: PushConfiguration())
    }
}
