import CZlibShim

/// How inflating a message went.
@_spi(Internals)
public enum InflateStatus: Sendable, Equatable {
    /// Everything so far inflated, within the limit.
    case ok
    /// The message inflates to more than the limit: close with 1009. Output stopped at the limit.
    case tooBig
    /// The data is not valid DEFLATE (or refers beyond the window): close with 1007.
    case corrupt
    /// zlib could not allocate its window: close with 1011.
    case failed
}

/// Decompresses permessage-deflate messages (RFC 7692 §7.2.2) incrementally, as their
/// frames arrive, never producing more than a message's size limit: a small bomb costs
/// at most the limit in output and the window in zlib.
///
/// Per message: ``startMessage(limit:)``, ``inflate(_:into:)`` for each piece of
/// payload, then ``finishMessage(into:)``, which adds the `00 00 ff ff` tail the sender
/// stripped. Without context takeover the history is dropped between messages, so one
/// inflater can serve every connection of a loop — as long as each message is inflated
/// from its start to its finish before another one starts. Not thread-safe.
@_spi(Internals)
public final class Inflater {
    /// Where the inflater is in the message cycle.
    private enum State {
        /// No message yet: the stream is fresh.
        case fresh
        /// Between messages.
        case idle
        case inflating
        /// The message failed; only ``startMessage(limit:)`` leaves this state.
        case failed(InflateStatus)
    }

    private let stream: OpaquePointer
    private let contextTakeover: Bool
    private var state = State.fresh
    private var limit = 0
    /// Bytes of the current message produced so far.
    public private(set) var producedCount = 0

    /// An inflater for windows of up to `1 << windowBits` bytes (8–15). Nil if zlib
    /// cannot allocate its state (the window itself is allocated on first use).
    public init?(windowBits: Int, contextTakeover: Bool) {
        precondition(DeflateConfiguration.windowBitsRange.contains(windowBits), "windowBits must be 8–15")
        guard let stream = pw_inflater_create(CInt(windowBits)) else { return nil }
        self.stream = stream
        self.contextTakeover = contextTakeover
    }

    deinit {
        pw_inflater_free(stream)
    }

    /// Begins a message that may inflate to at most `limit` bytes.
    public func startMessage(limit: Int) {
        precondition(limit >= 0, "negative limit")
        switch state {
        case .fresh:
            break
        case .failed:
            // zlib's stream is unusable after an error; the peer is being closed anyway.
            pw_inflater_reset(stream)
        case .idle, .inflating:
            // Ignored on failure: a reset stream only fails later messages that refer back.
            pw_inflater_next_message(stream, contextTakeover ? 1 : 0)
        }
        self.limit = limit
        producedCount = 0
        state = .inflating
    }

    /// Inflates the next piece of the message's payload into `output`.
    public func inflate<Output: InflateOutput>(_ input: UnsafeRawBufferPointer, into output: inout Output) -> InflateStatus {
        switch state {
        case .failed(let status):
            return status
        case .fresh, .idle:
            preconditionFailure("inflate outside a message")
        case .inflating:
            let status = run(input, into: &output)
            if status != .ok { state = .failed(status) }
            return status
        }
    }

    /// Ends the message: inflates the stripped `00 00 ff ff` tail (RFC 7692 §7.2.2).
    public func finishMessage<Output: InflateOutput>(into output: inout Output) -> InflateStatus {
        let status = withUnsafeBytes(of: Self.tail) { inflate($0, into: &output) }
        if status == .ok { state = .idle }
        return status
    }

    private static let tail: (UInt8, UInt8, UInt8, UInt8) = (0x00, 0x00, 0xFF, 0xFF)

    /// Feeds all of `input` to zlib, with room for at most the rest of the limit.
    private func run<Output: InflateOutput>(_ input: UnsafeRawBufferPointer, into output: inout Output) -> InflateStatus {
        var remaining = input
        while true {
            var step = Step(status: .failed, consumed: 0, produced: 0)
            if producedCount < limit {
                output.appendBytes(upTo: limit - producedCount) { room in
                    step = self.step(remaining, room)
                    return step.produced
                }
            } else {
                step = probeBeyondLimit(remaining)
            }
            producedCount += step.produced
            remaining = UnsafeRawBufferPointer(rebasing: remaining[step.consumed...])
            switch step.status {
            case .consumedAll: return .ok
            case .outputFull: continue
            case .tooBig: return .tooBig
            case .corrupt: return .corrupt
            case .failed: return .failed
            }
        }
    }

    /// At the limit, one byte of scratch room tells whether the message goes on.
    private func probeBeyondLimit(_ input: UnsafeRawBufferPointer) -> Step {
        var scratch: UInt8 = 0
        var probe = withUnsafeMutableBytes(of: &scratch) { step(input, $0) }
        if probe.produced > 0 {
            probe.status = .tooBig
            probe.produced = 0
        }
        return probe
    }
}

extension Inflater {
    /// What one call into zlib did.
    fileprivate struct Step {
        fileprivate enum Status {
            case consumedAll, outputFull, tooBig, corrupt, failed
        }

        var status: Status
        var consumed: Int
        var produced: Int
    }

    fileprivate func step(_ input: UnsafeRawBufferPointer, _ room: UnsafeMutableRawBufferPointer) -> Step {
        var consumed = 0
        var produced = 0
        let result = pw_inflate(
            stream, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, &consumed,
            room.baseAddress?.assumingMemoryBound(to: UInt8.self), room.count, &produced)
        let status: Step.Status =
            switch result {
            case PW_ZLIB_OK: .consumedAll
            case PW_ZLIB_OUTPUT_FULL: .outputFull
            case PW_ZLIB_CORRUPT: .corrupt
            default: .failed
            }
        return Step(status: status, consumed: consumed, produced: produced)
    }
}
