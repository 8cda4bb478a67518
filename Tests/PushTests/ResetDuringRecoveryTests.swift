import Glibc
import Push
import Reactor
import Testing
import TestSupport
import WebSocket

/// Connections reset by their peer while the server replays their missed messages, as mobile
/// clients that reconnect and drop again do. A write that fails mid-replay closes the
/// connection in the middle of the replay; the server must then let go of it entirely: a
/// server that kept something per such connection would grow for as long as it runs.
@Suite struct ResetDuringRecoveryTests {
    struct WeakContext: @unchecked Sendable {
        weak var value: WebSocketContext?
    }

    @Test func aServerWhoseClientsResetMidReplayIsFreedWhenStopped() throws {
        let topic = "replay.a"
        let rounds = 20
        var contexts: [WeakContext] = []
        do {
            let fixture = try PushServerFixture(history: ["replay.*=10000"])
            // 10,000 small messages take the server tens of milliseconds to replay, one write
            // each (about 100 KiB): the reset below arrives while it is still writing.
            for number in 1...10_000 { fixture.publish(topic, number) }
            let epoch = fixture.server.hub.status(of: topic).position.epoch
            let subscribe = #"{"op":"subscribe","topic":"\#(topic)","since":{"offset":0,"epoch":"\#(epoch)"}}"#
            for round in 0..<rounds {
                let fd = try #require(connectBlocking(port: fixture.port))
                let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                writeAll(fd, Array(request.utf8))
                #expect(readHead(fd).hasPrefix("HTTP/1.1 101"))
                writeAll(fd, maskedText(Array(subscribe.utf8)))
                // Part of the replay, a little more each round, so that the reset meets the
                // replay at different points.
                #expect(readBytes(fd, count: 2048 + round * 1024).count == 2048 + round * 1024)
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                close(fd)
            }
            fixture.stop(after: [topic])
            #expect(fixture.server.hub.status(of: topic).subscribers == 0)
            contexts = fixture.server.websocket.contexts.map { WeakContext(value: $0) }
        }
        // The fixture is gone and its loops have ended: nothing may keep their contexts.
        #expect(contexts.count == 2)
        #expect(contexts.allSatisfy { $0.value == nil })
    }

    /// A masked client text frame (mask key 0x01020304) of fewer than 126 bytes.
    private func maskedText(_ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count < 126)
        let key: [UInt8] = [1, 2, 3, 4]
        return [0x81, 0x80 | UInt8(payload.count)] + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }

    /// The response head, read a byte at a time so that no frame after it is consumed.
    private func readHead(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        while !bytes.ends(with: [13, 10, 13, 10]) {
            let byte = readBytes(fd, count: 1)
            guard !byte.isEmpty else { break }
            bytes += byte
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
