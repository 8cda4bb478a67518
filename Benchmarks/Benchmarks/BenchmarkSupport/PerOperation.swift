import Benchmark

extension Benchmark.Configuration {
    /// The configuration every suite uses: each sample runs 1,000 operations, so the scaled
    /// results (`*`) are per operation; mallocs are counted to hold the frame path at zero.
    public static var perOperation: Benchmark.Configuration {
        .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            timeUnits: .nanoseconds,
            warmupIterations: 5,
            scalingFactor: .kilo,
            maxDuration: .milliseconds(500),
            maxIterations: 2_000
        )
    }
}
