import CEpollShim
import Reactor
import Testing
import WebSocket
@testable import Push

/// What an idle push connection costs: its one object. The fields a push socket adds to
/// `WebSocket` decide which allocator block it lands in (16-byte steps).
@Suite struct SocketFootprintTests {
    @Test func rawTopicAndPushSocketsStayInA192ByteBlock() throws {
        let loop = try EventLoop()
        let context = WebSocketContext(loop: loop, role: .server)
        let hub = TopicHub(history: HistoryStore(maxBytes: 1 << 20, limits: { _ in HistoryLimits() }))
        let endpoint = PushEndpoint(hub: hub, configuration: PushConfiguration())
        let raw = RawTopicSocket(context: context, topic: "a-topic-name-longer-than-15", endpoint: endpoint, token: nil)
        let push = PushSocket(context: context, endpoint: endpoint, token: nil)
        // 184 usable bytes: a 192-byte block (the base `WebSocket` takes 152).
        #expect(pw_allocation_size(Unmanaged.passUnretained(raw).toOpaque()) <= 184)
        #expect(pw_allocation_size(Unmanaged.passUnretained(push).toOpaque()) <= 184)
    }
}
