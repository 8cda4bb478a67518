/// Exponential backoff with jitter for reconnects: the n-th retry in a row waits a random
/// time between half and all of `min(cap, base × 2ⁿ)`. The jitter spreads out clients that
/// lost their connections at the same moment (a server restart), so they do not all come
/// back in the same millisecond.
struct Backoff: Sendable, Equatable {
    let baseMilliseconds: Int64
    let capMilliseconds: Int64
    /// Retries since the last successful open.
    private(set) var attempt = 0

    init(baseMilliseconds: Int64, capMilliseconds: Int64) {
        self.baseMilliseconds = max(1, baseMilliseconds)
        self.capMilliseconds = max(self.baseMilliseconds, capMilliseconds)
    }

    /// The upper bound of the next delay, before jitter.
    var ceiling: Int64 {
        // The shift is bounded so that it cannot overflow; the cap is reached long before.
        min(capMilliseconds, baseMilliseconds << Int64(min(attempt, 30)))
    }

    /// The delay before the next attempt; counts the attempt. `unit` is a random number in
    /// [0, 1), a parameter so that tests can pin it.
    mutating func nextDelay(unit: Double = Double.random(in: 0..<1)) -> Int64 {
        let high = ceiling
        attempt = min(attempt + 1, 30)
        return high / 2 + Int64(Double(high - high / 2) * min(max(unit, 0), 1))
    }

    /// A connection opened: the next failure starts from the base again.
    mutating func reset() { attempt = 0 }
}
