import CEpollShim
import Reactor
import Testing
@testable import WebSocket

/// What an idle connection costs: the one object a server keeps for it. A million idle
/// connections are the server's reason to exist, so a field added to `WebSocket` (or to
/// `TCPConnection` under it) has to earn its bytes here.
@Suite struct ConnectionFootprintTests {
    @Test func idleWebSocketObjectStaysSmall() throws {
        let loop = try EventLoop()
        let context = WebSocketContext(loop: loop, role: .server)
        let socket = WebSocket(context: context)
        let bytes = pw_allocation_size(Unmanaged.passUnretained(socket).toOpaque())
        // 148 bytes in a 160-byte block (152 usable). The fields are ordered to pack without
        // padding (see `WebSocket`); the send queue is one pointer while empty, pings and idle
        // timeouts come from the context's `KeepaliveSweep`, which walks the loop's
        // registrations rather than keeping a timer or a list slot per connection, the frame
        // parser's role and limits are the context's (`FrameRules`), a client's upgrade in
        // progress waits in the extras.
        #expect(bytes <= 152, "an idle WebSocket object takes \(bytes) bytes")
    }
}
