@_spi(Internals) import WebSocket

/// The frame parser fuzzers (server and client role).
///
/// Input: byte 0 is the control byte (bits 0–2: largest chunk, see ``Splitter``;
/// bit 5: the rest is a script for a valid stream, see ``ValidStream``; bits 6–7: the
/// limits, see ``frameFuzzLimits``), byte 1 seeds the chunk sizes, the rest is the byte
/// stream from the peer (or the script).
///
/// The stream is parsed twice: in one call, and cut into chunks (each in its own
/// exactly-sized allocation). The parser is incremental, so both runs must deliver
/// the same counts and fail the same way. Then each parser is released and reused.
/// A valid stream must moreover be delivered exactly: every message, payload byte and
/// control frame, without failure.
public enum FrameParserFuzz {
    /// Small limits, so that short inputs reach close code 1009, by a frame header
    /// as well as by the fragments of a message adding up.
    public static let frameFuzzLimits = [
        FrameLimits(maxFrameSize: 64 * 1024, maxMessageSize: 64 * 1024),
        FrameLimits(maxFrameSize: 64 * 1024, maxMessageSize: 64 * 1024),
        FrameLimits(maxFrameSize: 1024, maxMessageSize: 2048),
        FrameLimits(maxFrameSize: 256, maxMessageSize: 100),
    ]

    /// The close codes a parser may fail with: protocol error, invalid payload, too big.
    static let failureCodes: Set<UInt16> = [1002, 1007, 1009]

    public static func run(role: Role, _ start: UnsafeRawPointer, _ count: Int) {
        guard count >= 2 else { return }
        let control = start.load(as: UInt8.self)
        let seed = start.load(fromByteOffset: 1, as: UInt8.self)
        let rest = UnsafeRawBufferPointer(start: start + 2, count: count - 2)
        guard control & 0x20 != 0 else {
            check(rest, role: role, limits: frameFuzzLimits[Int(control >> 6)], control: control, seed: seed)
            return
        }
        // Frames within the largest limits, whatever bits 6–7 say.
        let valid = ValidStream(script: rest, role: role)
        let counts = valid.bytes.withUnsafeBytes {
            check($0, role: role, limits: frameFuzzLimits[0], control: control, seed: seed)
        }
        let delivered = counts.failure == nil && counts.messages == valid.messages
            && counts.payloadBytes == valid.payloadBytes && counts.controlFrames == valid.controlFrames
        fuzzCheck(delivered, "a valid stream of \(valid.messages) messages (\(valid.payloadBytes) bytes) and \(valid.controlFrames) control frames gave \(describe(counts))")
    }

    /// Parses `stream` in one call and in chunks, checks the invariants, and returns the counts.
    @discardableResult
    static func check(_ stream: UnsafeRawBufferPointer, role: Role, limits: FrameLimits, control: UInt8, seed: UInt8) -> FrameParserProbe.Counts {
        // In one call.
        var whole = FrameParserProbe(role: role, limits: limits, digestPayloads: true)
        let wholeSucceeded = withExactCopy(of: stream) { whole.parse($0) }
        fuzzCheck(wholeSucceeded == (whole.counts.failure == nil), "parse() disagrees with counts.failure: \(describe(whole.counts))")

        // In chunks, going on after a failure: the parser must stay failed and deliver nothing more.
        var split = FrameParserProbe(role: role, limits: limits, digestPayloads: true)
        var splitter = Splitter(control: control, seed: seed)
        var countsAtFailure: FrameParserProbe.Counts?
        for (index, chunk) in splitter.chunks(count: stream.count).enumerated() {
            let bytes = UnsafeRawBufferPointer(rebasing: stream[chunk])
            let succeeded = withExactCopy(of: bytes, emptyHasBase: index & 1 == 0) { split.parse($0) }
            if let countsAtFailure {
                fuzzCheck(!succeeded, "a failed parser accepted more bytes")
                fuzzCheck(split.counts == countsAtFailure, "a failed parser delivered more: \(describe(countsAtFailure)) then \(describe(split.counts))")
            } else if !succeeded {
                fuzzCheck(split.counts.failure != nil, "parse() failed without a close code")
                countsAtFailure = split.counts
            }
        }

        fuzzCheck(whole.counts == split.counts, "one call gave \(describe(whole.counts)), chunks gave \(describe(split.counts))")
        fuzzCheck(whole.isHoldingBytes == split.isHoldingBytes, "isHoldingBytes: one call \(whole.isHoldingBytes), chunks \(split.isHoldingBytes)")
        checkPlausible(whole.counts, role: role, streamLength: stream.count)
        if let failure = whole.counts.failure {
            fuzzCheck(!whole.isHoldingBytes, "a failed parser still holds bytes")
            fuzzCheck(failureCodes.contains(failure), "unexpected close code \(failure)")
        }

        // Released, a parser holds nothing, and starts over like a new one unless it had failed.
        split.release()
        fuzzCheck(!split.isHoldingBytes, "holds bytes after release()")
        let first = whole.counts
        whole.release()
        fuzzCheck(!whole.isHoldingBytes, "holds bytes after release()")
        let againSucceeded = withExactCopy(of: stream) { whole.parse($0) }
        if first.failure != nil {
            fuzzCheck(!againSucceeded && whole.counts == first, "a failed parser recovered after release(): \(describe(whole.counts))")
        } else {
            let again = whole.counts
            let doubled = again.messages == 2 * first.messages && again.payloadBytes == 2 * first.payloadBytes
                && again.controlFrames == 2 * first.controlFrames && again.failure == nil
            fuzzCheck(againSucceeded && doubled, "reparsing after release(): \(describe(first)) then \(describe(again))")
        }
        whole.release()
        return first
    }

    /// Every delivered frame took a header (2 bytes, 6 when masked) from the stream,
    /// and payloads cannot be longer than what arrived.
    static func checkPlausible(_ counts: FrameParserProbe.Counts, role: Role, streamLength: Int) {
        let smallestHeader = role == .server ? 6 : 2
        let frames = counts.messages + counts.controlFrames
        fuzzCheck(counts.payloadBytes >= 0 && frames >= 0, "negative counts: \(describe(counts))")
        fuzzCheck(frames * smallestHeader + counts.payloadBytes <= streamLength, "more delivered than received: \(describe(counts)) from \(streamLength) bytes")
    }

    static func describe(_ counts: FrameParserProbe.Counts) -> String {
        let failure = counts.failure.map { String($0) } ?? "none"
        return "messages \(counts.messages), payload bytes \(counts.payloadBytes), control frames \(counts.controlFrames), failure \(failure), payload digest \(String(counts.payloadDigest, radix: 16))"
    }
}
