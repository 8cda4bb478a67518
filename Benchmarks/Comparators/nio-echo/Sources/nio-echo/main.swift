// nio-echo: a WebSocket echo server built the usual SwiftNIO way, as a point of
// comparison for Pushwave.
//
//   nio-echo --port PORT [--threads N]      (listens on 127.0.0.1, path /echo)
//
// The HTTP/1.1 pipeline is set up with a NIOWebSocketServerUpgrader; after the
// upgrade an EchoHandler sends every text, binary and continuation frame back
// with the same opcode and FIN bit, answers pings with pongs, and completes the
// close handshake. Protocol errors are handled by NIO (automaticErrorHandling).

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// Echoes data frames; writes are flushed once per read burst.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var sentClose = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            guard !self.sentClose else { return }
            let reply = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)
            context.write(Self.wrapOutboundOut(reply), promise: nil)
        case .ping:
            guard !self.sentClose else { return }
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.write(Self.wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            self.receivedClose(context: context, frame: frame)
        default:
            // Reserved opcodes are a protocol error: close with 1002.
            self.sendClose(context: context, code: .protocolError)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    private func receivedClose(context: ChannelHandlerContext, frame: WebSocketFrame) {
        if self.sentClose {
            // Our close was answered: the handshake is complete.
            context.close(promise: nil)
            return
        }
        // Answer with the peer's status code (if any), then close the TCP connection.
        var payload = frame.unmaskedData
        let code = payload.readSlice(length: 2) ?? ByteBuffer()
        self.sentClose = true
        let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
        context.writeAndFlush(Self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !self.sentClose else { return }
        self.sentClose = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        context.writeAndFlush(Self.wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension EchoHandler: Sendable {}

/// Answers any request that was not upgraded with 404 and closes. It sits at
/// the end of the HTTP pipeline and is removed when a connection is upgraded.
final class NotFoundHandler: ChannelInboundHandler, RemovableChannelHandler {
    static let name = "not-found"

    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = Self.unwrapInboundIn(data) else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: .notFound, headers: headers)
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension NotFoundHandler: Sendable {}

// MARK: - Command line

/// Writes a line straight to a file descriptor (unbuffered, so it shows up at once in a pipe).
func writeLine(_ line: String, to fd: Int32) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
}

func usage() -> Never {
    writeLine("usage: nio-echo --port PORT [--threads N]", to: 2)
    exit(2)
}

var port: Int?
var threads = 1
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--port":
        guard let value = arguments.popFirst().flatMap({ Int($0) }), (1...65535).contains(value) else { usage() }
        port = value
    case "--threads":
        guard let value = arguments.popFirst().flatMap({ Int($0) }), value >= 1 else { usage() }
        threads = value
    case "-h", "--help":
        usage()
    default:
        usage()
    }
}
guard let port else { usage() }

// MARK: - Server

let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)

let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            let upgrader = NIOWebSocketServerUpgrader(
                maxFrameSize: 16 << 20,
                automaticErrorHandling: true,
                shouldUpgrade: { channel, head in
                    let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
                    return channel.eventLoop.makeSucceededFuture(path == "/echo" ? HTTPHeaders() : nil)
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        sync.removeHandler(name: NotFoundHandler.name, promise: nil)
                        try sync.addHandler(EchoHandler())
                    }
                }
            )
            let sync = channel.pipeline.syncOperations
            try sync.configureHTTPServerPipeline(
                withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
            )
            try sync.addHandler(NotFoundHandler(), name: NotFoundHandler.name)
        }
    }

let server = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
writeLine("nio-echo listening on 127.0.0.1:\(port) (/echo, \(threads) thread\(threads == 1 ? "" : "s"))", to: 1)
try server.closeFuture.wait()
try group.syncShutdownGracefully()
