/// How a connection compresses the messages it sends (permessage-deflate, RFC 7692).
enum SendCompression: Equatable {
    /// Not negotiated: every frame goes out plain.
    case off
    /// No context takeover on our side: the loop's compressor for this window, which also
    /// makes the subscriber eligible for compressed topic batches.
    case shared(windowBits: UInt8)
    /// Context takeover: the connection's own compressor, in ``ConnectionDeflate``.
    case dedicated
}

/// The zlib state of a connection that keeps a compression context from one message to the
/// next, in either direction. Connections without context takeover have none.
final class ConnectionDeflate {
    let deflater: Deflater?
    let inflater: Inflater?
    /// zlib's own formula for what the two hold (see ``DeflateConfiguration``).
    let memoryEstimate: Int

    init(deflater: Deflater?, inflater: Inflater?, memoryEstimate: Int) {
        self.deflater = deflater
        self.inflater = inflater
        self.memoryEstimate = memoryEstimate
    }
}

/// What compressing an outgoing message gave.
enum OutgoingPayload {
    /// Send the message as it is, RSV1 clear.
    case plain
    /// Send these bytes with RSV1 set; valid until the next compression on this loop.
    case compressed(UnsafeRawBufferPointer)
    /// The connection's own compressor failed: its history is gone, so must the connection be.
    case failed
}

/// What inflating a received message gave.
enum InflatedMessage {
    /// The message, valid until the next message is inflated on this loop.
    case message(UnsafeRawBufferPointer)
    case failed(CloseCode, reason: String)
}

extension WebSocket {
    /// Switches permessage-deflate on with the agreed `parameters`, before the connection
    /// opens. False if zlib could not allocate a connection's own state (the server then
    /// declines the extension; a client fails the handshake).
    func enableCompression(_ parameters: DeflateParameters) -> Bool {
        let role = context.role
        let configuration = context.configuration.deflate
        var deflater: Deflater?
        var inflater: Inflater?
        var memory = 0
        if parameters.sendsWithContextTakeover(as: role) {
            let bits = parameters.sendWindowBits(as: role)
            deflater = Deflater(
                windowBits: bits, memoryLevel: configuration.memoryLevel,
                level: configuration.compressionLevel, contextTakeover: true)
            guard deflater != nil else { return false }
            memory += (1 << (bits + 2)) + (1 << (configuration.memoryLevel + 9)) + 6 * 1024
        }
        if parameters.receivesWithContextTakeover(as: role) {
            let bits = parameters.receiveWindowBits(as: role)
            inflater = Inflater(windowBits: bits, contextTakeover: true)
            guard inflater != nil else { return false }
            memory += (1 << bits) + 7 * 1024
        }
        if deflater != nil || inflater != nil {
            extrasForWriting.deflate = ConnectionDeflate(deflater: deflater, inflater: inflater, memoryEstimate: memory)
            context.statistics.deflateMemoryBytes += memory
        }
        sendCompression = deflater != nil ? .dedicated : .shared(windowBits: UInt8(parameters.sendWindowBits(as: role)))
        acceptCompressedMessages()
        return true
    }

    /// Gives the estimate of a closing connection's zlib memory back.
    func releaseCompression() {
        if let deflate = extras?.deflate {
            context.statistics.deflateMemoryBytes -= deflate.memoryEstimate
        }
    }

    /// Compresses a data message about to be sent, when worth it.
    func compressForSending(_ payload: UnsafeRawBufferPointer) -> OutgoingPayload {
        guard payload.count >= context.configuration.deflate.thresholdBytes else { return .plain }
        let compression = context.compression
        switch sendCompression {
        case .off:
            return .plain
        case .shared(let windowBits):
            // A failed shared compressor resets itself; the message simply goes out plain.
            guard let deflater = compression.deflater(windowBits: Int(windowBits), messageBytes: payload.count),
                let compressed = compression.compress(payload, with: deflater), compressed.count < payload.count
            else { return .plain }
            countCompression(payload.count, compressed.count)
            return .compressed(compressed)
        case .dedicated:
            guard let deflater = extras?.deflate?.deflater, let compressed = compression.compress(payload, with: deflater) else {
                return .failed
            }
            // The message is now in our compressor's history, which the peer's decompressor
            // must share: it goes out compressed even when that did not make it smaller.
            countCompression(payload.count, compressed.count)
            return .compressed(compressed)
        }
    }

    private func countCompression(_ before: Int, _ after: Int) {
        context.statistics.messagesCompressed += 1
        context.statistics.bytesBeforeCompression += before
        context.statistics.bytesAfterCompression += after
    }

    /// Inflates a whole received message (the frame parser assembled its compressed bytes)
    /// and checks text as UTF-8.
    func inflateReceived(_ payload: UnsafeRawBufferPointer, text: Bool) -> InflatedMessage {
        let compression = context.compression
        guard let inflater = extras?.deflate?.inflater ?? compression.inflater() else {
            return .failed(.internalError, reason: "no memory to inflate")
        }
        let limit = Int(FrameLimits.clamped(context.configuration.limits.maxMessageSize))
        switch compression.inflate(payload, with: inflater, limit: limit) {
        case .ok:
            break
        case .tooBig:
            return .failed(.messageTooBig, reason: "message too big")
        case .corrupt:
            // 1007, invalid payload data: the frame is well formed and RSV1 was negotiated,
            // but its payload is not the DEFLATE data it claims to be — a data error, like
            // bad UTF-8, rather than a framing one (1002).
            return .failed(.invalidPayload, reason: "invalid compressed data")
        case .failed:
            return .failed(.internalError, reason: "inflate failed")
        }
        let inflated = UnsafeRawBufferPointer(compression.inflated.bytes)
        if text {
            var validator = UTF8Validator()
            guard validator.validate(inflated), validator.isComplete else {
                return .failed(.invalidPayload, reason: "invalid UTF-8 in text message")
            }
        }
        context.statistics.messagesInflated += 1
        context.statistics.bytesBeforeInflation += payload.count
        context.statistics.bytesAfterInflation += inflated.count
        return .message(inflated)
    }
}
