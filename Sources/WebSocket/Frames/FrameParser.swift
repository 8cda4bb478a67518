/// Turns received bytes into messages and control frames (RFC 6455 §5).
///
/// A frame that arrives whole in one read is unmasked in place and handed to
/// the sink straight from the input: no copy. Only what must outlive a read is
/// copied, once: a partial header into inline storage, a partial payload or
/// the fragments of a message into a ``MessageBuffer`` (which is freed when
/// the message is delivered, so an idle connection owns no memory).
///
/// The parser is a plain value of 50 bytes on 64-bit platforms, with no
/// references: a connection can copy it into a local variable, parse, and store
/// it back, without reference counting or exclusivity checks. Only one copy may
/// be used afterwards, since the copies share the buffer. What every connection
/// of a context shares — role and limits, ``FrameRules`` — is passed to each
/// `parse` rather than stored: an idle connection is mostly its object.
struct FrameParser {
    private enum State {
        /// Between frames, possibly with part of the next header kept.
        case awaitingHeader
        /// Part of a frame's payload has been buffered; `frame` describes the rest.
        case receivingPayload
        /// The peer broke the protocol; every later call fails the same way.
        case failed(ProtocolError)
    }

    /// The frame whose payload is being buffered across reads.
    private struct FrameInFlight {
        var maskKey: UInt32 = 0
        var length: UInt32 = 0
        var remaining: UInt32 = 0
        var opcode = Opcode.continuation
        var fin = false

        /// How many payload bytes have been received (and unmasked) so far.
        var received: Int { Int(length &- remaining) }
    }

    // Stored in decreasing alignment so that the struct packs tightly.
    private var buffer = MessageBuffer()
    private var frame = FrameInFlight()
    private var partialHeader = PartialHeader()
    private var state = State.awaitingHeader
    /// The opcode (text or binary) of the message being assembled in `buffer`, nil when none.
    private var messageOpcode: Opcode?
    /// Validates the text message being assembled, across frames and reads.
    private var textValidator = UTF8Validator()
    /// Whether permessage-deflate was negotiated: RSV1 may then mark the first frame of a
    /// data message as compressed (RFC 7692 §6).
    private var acceptsCompressedMessages = false
    /// The message being assembled in `buffer` is compressed: its bytes are checked as
    /// UTF-8 only once inflated, by whoever inflates them.
    private var messageCompressed = false

    init() {}

    /// Lets RSV1 mark compressed messages, once permessage-deflate has been negotiated.
    mutating func acceptCompressedMessages() {
        acceptsCompressedMessages = true
    }

    /// True while the parser holds bytes: a partial frame or a fragmented message in flight.
    var isHoldingBytes: Bool {
        if case .receivingPayload = state { return true }
        return !partialHeader.isEmpty || messageOpcode != nil
    }

    /// The memory the parser owns, in bytes (0 when it holds no buffer).
    var bufferCapacity: Int { buffer.capacity }

    /// Frees any buffer held and starts over as a new parser would; the
    /// connection calls this when it closes. A failed parser stays failed.
    mutating func releaseBuffers() {
        buffer.deallocate()
        partialHeader.removeAll()
        messageOpcode = nil
        messageCompressed = false
        textValidator.reset()
        if case .receivingPayload = state {
            state = .awaitingHeader
        }
    }

    /// Parses `bytes`, unmasking payloads in place, and calls `sink` for each
    /// complete message and control frame, in order. `rules` must be the same on every call.
    mutating func parse<Sink: FrameSink>(
        _ bytes: UnsafeMutableRawBufferPointer, rules: FrameRules, into sink: inout Sink
    ) -> ParseOutcome {
        if case .failed(let error) = state { return .failed(error) }
        guard let base = bytes.baseAddress else { return .needMoreBytes }
        var input = Input(base: base, count: bytes.count, rules: rules)
        while true {
            let step: Step
            switch state {
            case .awaitingHeader:
                // The common frame first, here in the loop: the general path is a larger
                // function (its header buffer and checks) that costs a call per frame.
                step = parseSmallWholeFrame(&input, &sink) ?? parseFrame(&input, &sink)
            case .receivingPayload:
                step = receivePayload(&input, &sink)
            case .failed(let error):
                step = .failed(error)
            }
            switch step {
            case .proceed:
                continue
            case .needMoreBytes:
                return .needMoreBytes
            case .stopped:
                return .stopped(consumed: input.position)
            case .failed(let error):
                releaseBuffers()
                state = .failed(error)
                return .failed(error)
            }
        }
    }

    // MARK: - Steps

    /// The input of one `parse` call and how far it has been read, with the rules it is
    /// parsed by (carried here, in memory, rather than as one more argument of every step).
    private struct Input {
        let base: UnsafeMutableRawPointer
        let count: Int
        let rules: FrameRules
        var position = 0

        var remaining: Int { count &- position }
        var current: UnsafeMutableRawPointer { base + position }

        func next(_ length: Int) -> UnsafeMutableRawBufferPointer {
            UnsafeMutableRawBufferPointer(start: current, count: length)
        }
    }

    /// What the parse loop does after a step.
    private enum Step {
        case proceed
        /// All input consumed.
        case needMoreBytes
        /// The sink asked to stop.
        case stopped
        case failed(ProtocolError)
    }

    /// Reads a frame header (completing a kept partial one if any) and starts its payload.
    private mutating func parseFrame<Sink: FrameSink>(_ input: inout Input, _ sink: inout Sink) -> Step {
        guard input.remaining > 0 else { return .needMoreBytes }
        let header: FrameHeader
        if partialHeader.isEmpty {
            switch decodeHeader(UnsafeRawBufferPointer(input.next(input.remaining)), input.rules) {
            case .complete(let decoded):
                header = decoded
                input.position += decoded.length
            case .incomplete:
                // Fewer than 14 bytes are left, or the header would be complete.
                input.position += partialHeader.append(input.current, available: input.remaining)
                return .needMoreBytes
            case .invalid(let error):
                return .failed(error)
            }
        } else {
            let rules = input.rules
            let previouslyKept = partialHeader.count
            let taken = partialHeader.append(input.current, available: input.remaining)
            switch partialHeader.withBytes({ decodeHeader($0, rules) }) {
            case .complete(let decoded):
                header = decoded
                input.position += decoded.length - previouslyKept
                partialHeader.removeAll()
            case .incomplete:
                // 14 bytes always complete a header, so everything was taken.
                input.position += taken
                return .needMoreBytes
            case .invalid(let error):
                return .failed(error)
            }
        }
        return startPayload(of: header, &input, &sink)
    }

    /// The common case, decided from the first two bytes: a whole unfragmented text or binary
    /// frame with a 7-bit length, masked as the role requires, while no message is being
    /// assembled. Every rule it skips cannot apply to such a frame (no reserved bits, a known
    /// data opcode, FIN set, within the limits), so the result is what `decodeHeader` and
    /// `startPayload` would give; anything else returns nil and takes the general path.
    @inline(__always)
    private mutating func parseSmallWholeFrame<Sink: FrameSink>(_ input: inout Input, _ sink: inout Sink) -> Step? {
        guard partialHeader.isEmpty, messageOpcode == nil, input.remaining >= 2 else { return nil }
        let first = input.current.load(as: UInt8.self)
        let second = input.current.load(fromByteOffset: 1, as: UInt8.self)
        let rules = input.rules
        let masked = rules.role.expectsMaskedFrames
        let length = Int(second & 0x7F)
        let headerLength = masked ? 6 : 2
        guard first == 0x81 || first == 0x82, (second & 0x80 != 0) == masked, length < 126,
              UInt32(length) <= rules.maxFrameSize, UInt32(length) <= rules.maxMessageSize,
              input.remaining >= headerLength + length else { return nil }
        let payload = UnsafeMutableRawBufferPointer(start: input.current + headerLength, count: length)
        var isASCII = false
        if masked {
            isASCII = Masking.unmaskCheckingASCII(payload, key: UInt32(littleEndian: input.current.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
        }
        input.position += headerLength + length
        return deliverWholeMessage(first == 0x81 ? .text : .binary, UnsafeRawBufferPointer(payload), isASCII: isASCII, &sink)
    }

    /// Delivers a frame that lies whole in the input straight from it, or
    /// starts buffering its payload.
    private mutating func startPayload<Sink: FrameSink>(
        of header: FrameHeader, _ input: inout Input, _ sink: inout Sink
    ) -> Step {
        let isWhole = header.payloadLength <= input.remaining
        let isCompleteMessage = header.fin && header.opcode != .continuation
        if isWhole && (header.opcode.isControl || isCompleteMessage) {
            let payload = input.next(header.payloadLength)
            if input.rules.role.expectsMaskedFrames {
                Masking.unmask(payload, key: header.maskKey, offset: 0)
            }
            input.position += header.payloadLength
            if header.opcode.isControl {
                return deliverControlFrame(header.opcode, UnsafeRawBufferPointer(payload), &sink)
            }
            if header.compressed {
                return sink.compressedMessage(header.opcode, UnsafeRawBufferPointer(payload)) ? .proceed : .stopped
            }
            return deliverWholeMessage(header.opcode, UnsafeRawBufferPointer(payload), &sink)
        }
        if !header.opcode.isControl && header.opcode != .continuation {
            messageOpcode = header.opcode
            messageCompressed = header.compressed
            textValidator.reset()
        }
        // Lengths passed the limits, which keep them below 2^31.
        let length = UInt32(truncatingIfNeeded: header.payloadLength)
        // One allocation for a frame of up to 64 KiB; beyond that the buffer grows as bytes
        // arrive, so a peer that announces a large frame and stalls holds little memory.
        buffer.reserve(buffer.count + min(Int(length), 64 * 1024), limit: Int(input.rules.maxMessageSize) + 125)
        frame = FrameInFlight(maskKey: header.maskKey, length: length, remaining: length, opcode: header.opcode, fin: header.fin)
        state = .receivingPayload
        return .proceed
    }

    /// Unmasks and buffers as much of the frame in flight as the input holds,
    /// and finishes the frame once all of it is there.
    private mutating func receivePayload<Sink: FrameSink>(_ input: inout Input, _ sink: inout Sink) -> Step {
        let chunk = input.next(min(Int(frame.remaining), input.remaining))
        if input.rules.role.expectsMaskedFrames {
            Masking.unmask(chunk, key: frame.maskKey, offset: frame.received)
        }
        // Validating each piece as it arrives fails a bad text message as early as possible.
        if !frame.opcode.isControl && messageOpcode == .text && !messageCompressed {
            guard textValidator.validate(UnsafeRawBufferPointer(chunk)) else { return .failed(.invalidUTF8) }
        }
        buffer.append(UnsafeRawBufferPointer(chunk), limit: Int(input.rules.maxMessageSize) + 125)
        input.position += chunk.count
        frame.remaining -= UInt32(truncatingIfNeeded: chunk.count)
        guard frame.remaining == 0 else { return .needMoreBytes }
        state = .awaitingHeader
        return frame.opcode.isControl ? finishBufferedControlFrame(&sink) : finishBufferedDataFrame(&sink)
    }

    /// After the last byte of a buffered data frame: delivers the message if
    /// the frame was its last, then frees the buffer.
    private mutating func finishBufferedDataFrame<Sink: FrameSink>(_ sink: inout Sink) -> Step {
        guard frame.fin, let opcode = messageOpcode else { return .proceed }
        let keepGoing: Bool
        if messageCompressed {
            keepGoing = sink.compressedMessage(opcode, UnsafeRawBufferPointer(buffer.bytes))
        } else {
            if opcode == .text && !textValidator.isComplete {
                return .failed(.invalidUTF8)
            }
            keepGoing = sink.message(opcode, UnsafeRawBufferPointer(buffer.bytes))
        }
        buffer.deallocate()
        messageOpcode = nil
        messageCompressed = false
        return keepGoing ? .proceed : .stopped
    }

    /// After the last byte of a buffered control frame: delivers it from the
    /// end of the buffer, then drops it, leaving any message being assembled.
    private mutating func finishBufferedControlFrame<Sink: FrameSink>(_ sink: inout Sink) -> Step {
        let start = buffer.count - Int(frame.length)
        let step = deliverControlFrame(frame.opcode, UnsafeRawBufferPointer(rebasing: buffer.bytes[start...]), &sink)
        if messageOpcode == nil {
            buffer.deallocate()
        } else {
            buffer.truncate(to: start)
        }
        return step
    }

    /// `isASCII`: the pass that unmasked the payload found only ASCII, which is valid UTF-8.
    private func deliverWholeMessage<Sink: FrameSink>(
        _ opcode: Opcode, _ payload: UnsafeRawBufferPointer, isASCII: Bool = false, _ sink: inout Sink
    ) -> Step {
        if opcode == .text, !isASCII {
            var validator = UTF8Validator()
            guard validator.validate(payload), validator.isComplete else { return .failed(.invalidUTF8) }
        }
        return sink.message(opcode, payload) ? .proceed : .stopped
    }

    private func deliverControlFrame<Sink: FrameSink>(
        _ opcode: Opcode, _ payload: UnsafeRawBufferPointer, _ sink: inout Sink
    ) -> Step {
        let keepGoing: Bool
        switch opcode {
        case .ping:
            keepGoing = sink.ping(payload)
        case .pong:
            keepGoing = sink.pong(payload)
        case .close:
            switch ClosePayload.decode(payload) {
            case .success(let close):
                keepGoing = sink.close(code: close.code, reason: close.reason)
            case .failure(let error):
                return .failed(error)
            }
        case .continuation, .text, .binary:
            keepGoing = true  // Not control frames: never routed here.
        }
        return keepGoing ? .proceed : .stopped
    }

    // MARK: - Header rules

    /// Decodes the header at the start of `bytes`, checking each rule as soon
    /// as the bytes it needs are there: a bad first byte fails before the
    /// length arrives, a bad length before the masking key.
    private func decodeHeader(_ bytes: UnsafeRawBufferPointer, _ rules: FrameRules) -> HeaderDecoding {
        guard bytes.count >= 2 else { return .incomplete }
        let first = bytes[0]
        let second = bytes[1]
        let compressed = first & 0x70 == 0x40 && marksCompressedMessage(first)
        guard first & 0x70 == 0 || compressed else { return .invalid(.reservedBitsSet) }
        guard let opcode = Opcode(rawValue: first & 0x0F) else { return .invalid(.unknownOpcode) }
        let fin = first & 0x80 != 0
        let masked = second & 0x80 != 0
        let shortLength = second & 0x7F
        if let error = violation(opcode: opcode, fin: fin, masked: masked, shortLength: shortLength, role: rules.role) {
            return .invalid(error)
        }

        let lengthFieldSize = shortLength == 127 ? 8 : (shortLength == 126 ? 2 : 0)
        guard bytes.count >= 2 + lengthFieldSize else { return .incomplete }
        let length: UInt64
        switch lengthFieldSize {
        case 8: length = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
        case 2: length = UInt64(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        default: length = UInt64(shortLength)
        }
        if let error = lengthViolation(length, opcode: opcode, rules) {
            return .invalid(error)
        }

        let headerLength = 2 + lengthFieldSize + (masked ? 4 : 0)
        guard bytes.count >= headerLength else { return .incomplete }
        let maskKey = masked ? UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: headerLength - 4, as: UInt32.self)) : 0
        return .complete(FrameHeader(
            fin: fin, opcode: opcode, compressed: compressed, maskKey: maskKey, payloadLength: Int(length), length: headerLength))
    }

    /// RSV1 is allowed only when negotiated, and only on the first frame of a data message:
    /// never on a continuation or a control frame (RFC 7692 §6.1).
    private func marksCompressedMessage(_ first: UInt8) -> Bool {
        let opcode = first & 0x0F
        return acceptsCompressedMessages && (opcode == Opcode.text.rawValue || opcode == Opcode.binary.rawValue)
    }

    /// The rules the first two header bytes decide (RFC 6455 §5.1, §5.4, §5.5).
    private func violation(opcode: Opcode, fin: Bool, masked: Bool, shortLength: UInt8, role: Role) -> ProtocolError? {
        if opcode.isControl {
            if !fin { return .fragmentedControlFrame }
            if shortLength > 125 { return .controlFrameTooLong }
        } else if opcode == .continuation {
            if messageOpcode == nil { return .unexpectedContinuation }
        } else if messageOpcode != nil {
            return .expectedContinuation
        }
        if masked != role.expectsMaskedFrames {
            return role == .server ? .unmaskedFrameFromClient : .maskedFrameFromServer
        }
        return nil
    }

    /// The rules on the payload length: the protocol's (§5.2) and the limits.
    private func lengthViolation(_ length: UInt64, opcode: Opcode, _ rules: FrameRules) -> ProtocolError? {
        if length >> 63 != 0 { return .lengthTopBitSet }
        if opcode.isControl { return nil }
        if length > UInt64(rules.maxFrameSize) { return .frameTooBig }
        // Between frames the buffer holds exactly the message assembled so far.
        let messageSoFar = opcode == .continuation ? UInt64(buffer.count) : 0
        if messageSoFar + length > UInt64(rules.maxMessageSize) { return .messageTooBig }
        return nil
    }
}
