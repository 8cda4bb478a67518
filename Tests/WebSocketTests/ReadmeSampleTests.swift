import Synchronization
import Testing
import TestSupport
import Reactor
import WebSocket

// The README's WebSocket sample, as written there, checked with a client from the same library.
final class EchoSocket: WebSocket, @unchecked Sendable {
    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        send(message, kind: kind)              // the RawSpan cannot outlive this call
    }
}

@Suite struct ReadmeSampleTests {
    @Test func webSocketSampleEchoes() throws {
        let group = try EventLoopGroup(count: 2)
        let server = WebSocketServer { request in
            switch request.head.path {
            case "/echo": .upgrade { EchoSocket(context: $0) }
            case "/healthz": .text(200, "ok\n")
            default: .notFound
            }
        }
        let address = try server.listen(on: group.loops, address: SocketAddress(host: "127.0.0.1", port: 0))
        try group.start { _ in }
        defer { group.stop(); group.wait() }

        let client = try LoopThread()
        defer { client.stop() }
        let outcome = ClientOutcome()
        try client.sync {
            let context = WebSocketContext(loop: client.loop, role: .client)
            let socket = ScriptedClient(context: context, messages: ["hello", "wörld"], outcome: outcome)
            try socket.connect(to: WebSocketURL("ws://127.0.0.1:\(address.port)/echo"))
        }
        #expect(waitUntil(seconds: 10) { outcome.closeCode.withLock { $0 } != nil })
        #expect(outcome.received.withLock { $0 } == ["hello", "wörld"])
        #expect(outcome.closeCode.withLock { $0 } == .normalClosure)
    }
}

/// What a scripted client saw.
final class ClientOutcome: Sendable {
    let received = Mutex<[String]>([])
    let closeCode = Mutex<CloseCode?>(nil)
    let closeReason = Mutex("")
    let opened = Atomic<Bool>(false)
}

/// Sends its messages on open, collects the echoes, then closes with 1000.
final class ScriptedClient: WebSocket, @unchecked Sendable {
    let messages: [String]
    let outcome: ClientOutcome

    init(context: WebSocketContext, messages: [String], outcome: ClientOutcome) {
        self.messages = messages
        self.outcome = outcome
        super.init(context: context)
    }

    override func didOpen() {
        outcome.opened.store(true, ordering: .relaxed)
        for message in messages { send(text: message) }
        if messages.isEmpty { close() }
    }

    override func didReceive(_ message: RawSpan, kind: MessageKind) {
        let count = outcome.received.withLock { received in
            received.append(message.utf8String)
            return received.count
        }
        if count == messages.count { close() }
    }

    override func didClose(code: CloseCode, reason: String) {
        outcome.closeReason.withLock { $0 = reason }
        outcome.closeCode.withLock { $0 = code }
    }
}
