import Histogram
import Reactor
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What one process measured.
struct ProcessResult: Sendable {
    var totals: RunTotals
    var details: [String: Int]
}

/// Runs the plan's share of the work in this process: one loop per thread, with the main
/// thread keeping time, printing progress and collecting the loops' counters at the end.
/// Ctrl-C (``Interruption``) ends the waits early; what was measured until then is reported.
struct LocalRun {
    let plan: RunPlan
    let showProgress: Bool

    /// The longest wait for a loop's counts at the end of a run.
    private static let resultTimeoutMilliseconds: Int64 = 120_000

    /// A child of `--processes` reports its progress to the parent, which merges it.
    private var reportsProgress: Bool { showProgress || plan.isChild }

    func run() throws -> ProcessResult {
        let descriptors = ResourceLimits.raiseOpenFileLimit()
        let planned = plan.localConnectionIDs.count + plan.localPublisherIDs.count
        if planned + 64 > descriptors {
            printError("pushwave-load: warning: \(planned) connections but only \(descriptors) file descriptors; use --processes")
        }
        if plan.mode == .push || plan.rate != nil { reduceTimerSlack() }
        let group = try EventLoopGroup(count: plan.threads)
        let shared = SharedState()
        let workers = try group.loops.enumerated().map { index, loop in
            try LoopWorker(plan: plan, loop: loop, index: index, shared: shared)
        }
        let targets = workers.reduce(0) { $0 + $1.connectionTargets }
        try group.start { loop in
            workers.first { $0.loop === loop }?.beginSetup()
        }

        // Connect everything first; traffic starts once every connection opened or failed.
        let setupStart = MonotonicClock.nanoseconds()
        var lastReport = setupStart
        while shared.settled.load(ordering: .acquiring) < targets, Interruption.sleep(milliseconds: 5) {
            let now = MonotonicClock.nanoseconds()
            if reportsProgress, now - lastReport >= 1_000_000_000 {
                lastReport = now
                let opened = shared.opened.load(ordering: .relaxed)
                let settled = shared.settled.load(ordering: .relaxed)
                if plan.isChild {
                    printOutput(ProgressLine(opened: opened, received: 0, errors: settled - opened).text)
                } else {
                    printError("  connecting: \(grouped(opened)) open, \(grouped(settled - opened)) failed, of \(grouped(targets))")
                }
            }
        }
        let opened = shared.opened.load(ordering: .acquiring)
        let setupSeconds = Double(MonotonicClock.nanoseconds() - setupStart) / 1e9
        // With --json too (its readable output goes to standard error): a script may act on it.
        if showProgress || (plan.json && !plan.isChild) {
            let seconds = Double(MonotonicClock.nanoseconds() - setupStart) / 1e9
            printError("  \(grouped(opened)) of \(grouped(targets)) connections open after \(fixed(seconds, 2)) s")
        }

        let t0: Int64
        if plan.isChild {
            // The parent starts every process at the same moment (the clock is system-wide).
            printOutput("READY \(opened)")
            guard let line = readLine(), line.hasPrefix("GO "), let start = Int64(line.dropFirst(3)) else {
                throw PlanError("no start signal from the parent process")
            }
            t0 = start
        } else {
            t0 = MonotonicClock.nanoseconds() + 5_000_000 + nanoseconds(seconds: plan.hold)
        }
        _ = onEveryLoop(workers) { $0.prepare(t0: t0) }
        Interruption.sleep(untilNanoseconds: t0)
        let cpuAtStart = processCPUSeconds()
        for worker in workers {
            worker.loop.execute { worker.start() }
        }

        let interruptedWhileConnecting = Interruption.requested
        switch (opened == 0 && !plan.isChild) || interruptedWhileConnecting ? nil : plan.mode {
        case nil:
            break  // nothing to measure
        case .echo?:
            let end = t0 + nanoseconds(seconds: plan.warmup + plan.duration)
            runWithProgress(workers, from: t0, until: end)
        case .push?:
            waitForPush(workers, shared: shared, t0: t0)
        case .connect?:
            runWithProgress(workers, from: t0, until: t0 + nanoseconds(seconds: plan.duration))
        case .publish?:
            let end = t0 + nanoseconds(seconds: plan.duration)
            if plan.messages == nil {
                runWithProgress(workers, from: t0, until: end)
            } else {
                // Until every answer is in, or --duration (the longest a counted run may take).
                while shared.publishingDone.load(ordering: .acquiring) < workers.count, MonotonicClock.nanoseconds() < end {
                    guard Interruption.sleep(milliseconds: 1) else { break }
                }
            }
        }

        let cpuUsed = processCPUSeconds() - cpuAtStart
        let stoppedAt = MonotonicClock.nanoseconds()
        if case .measured(let timeout) = plan.closing, !interruptedWhileConnecting {
            measureClosing(workers, shared: shared, timeout: timeout)
        }

        // Stop counting, then close everything: the closing handshakes are not measured
        // (except by `connect --measure-close`, just done).
        // The counts are collected before the closing starts, and waited for as long as it
        // takes: with tens of processes sharing two cores a loop may answer only after
        // seconds, and a missing answer would be a process reporting nothing.
        let finished = onEveryLoop(workers, timeout: Self.resultTimeoutMilliseconds) { worker -> ProcessResult in
            ProcessResult(totals: worker.finish(), details: worker.details)
        }
        for worker in workers { worker.loop.execute { worker.closeAll() } }
        for worker in workers { worker.stopPacer() }
        var result = ProcessResult(totals: RunTotals(), details: [:])
        for part in finished {
            guard let part else { continue }
            result.totals.add(part.totals)
            result.details.merge(part.details, uniquingKeysWith: +)
        }
        result.totals.cpuSeconds = cpuUsed
        result.totals.setupSeconds = setupSeconds
        if Interruption.requested {
            // The window ends where the run was stopped (the warm-up does not count).
            result.totals.interrupted = true
            let measured = Double(stoppedAt - t0) / 1e9 - plan.warmup
            result.totals.measuredSeconds = min(max(0, measured), plan.duration)
        }
        let closeDeadline = MonotonicClock.nanoseconds() + 3_000_000_000
        while MonotonicClock.nanoseconds() < closeDeadline {
            let open = onEveryLoop(workers) { $0.loop.connectionCount }.reduce(0) { $0 + ($1 ?? 0) }
            if open == 0 { break }
            sleep(milliseconds: 10)
        }
        group.stop()
        group.wait()
        for worker in workers { worker.releaseConnections() }
        return result
    }

    /// `connect --measure-close`: every loop sends its close frames at once; waits until every
    /// connection has ended, or `timeout` seconds (the connections still closing then count
    /// as failed closes).
    private func measureClosing(_ workers: [LoopWorker], shared: SharedState, timeout: Double) {
        let deadline = MonotonicClock.nanoseconds() + nanoseconds(seconds: timeout)
        _ = onEveryLoop(workers, timeout: Self.resultTimeoutMilliseconds) { $0.beginMeasuredClose() }
        while shared.closing.load(ordering: .acquiring) > 0, MonotonicClock.nanoseconds() < deadline {
            sleep(milliseconds: 2)
        }
        _ = onEveryLoop(workers, timeout: Self.resultTimeoutMilliseconds) { $0.abandonMeasuredCloses() }
    }

    /// Sleeps until `end`, printing a progress line every second on a terminal.
    private func runWithProgress(_ workers: [LoopWorker], from start: Int64, until end: Int64) {
        var previous = RunTotals()
        var previousTime = start
        var next = start + 1_000_000_000
        while true {
            let now = MonotonicClock.nanoseconds()
            if now >= end { break }
            guard reportsProgress else {
                Interruption.sleep(untilNanoseconds: end)
                break
            }
            guard Interruption.sleep(untilNanoseconds: min(next, end)) else { break }
            let time = MonotonicClock.nanoseconds()
            guard time < end else { break }
            next += 1_000_000_000
            let current = progressSnapshot(workers)
            printProgress(current, previous: previous, seconds: Double(time - previousTime) / 1e9, elapsed: Double(time - start) / 1e9)
            previous = current
            previousTime = time
        }
    }

    /// Push: waits until every publisher sent everything, then up to `deliveryWait` seconds
    /// for deliveries still on their way.
    private func waitForPush(_ workers: [LoopWorker], shared: SharedState, t0: Int64) {
        var previous = RunTotals()
        var previousTime = t0
        var nextProgress = t0 + 1_000_000_000
        func progress() {
            let now = MonotonicClock.nanoseconds()
            guard reportsProgress, now >= nextProgress else { return }
            nextProgress += 1_000_000_000
            let current = progressSnapshot(workers)
            printProgress(current, previous: previous, seconds: Double(now - previousTime) / 1e9, elapsed: Double(now - t0) / 1e9)
            previous = current
            previousTime = now
        }
        while shared.publishingDone.load(ordering: .acquiring) < workers.count {
            guard Interruption.sleep(milliseconds: 2) else { return }
            progress()
        }
        let expected = onEveryLoop(workers, timeout: Self.resultTimeoutMilliseconds) { $0.expectedDeliveries }.reduce(0) { $0 + ($1 ?? 0) }
        // A process without publishers (a child of --processes) is done publishing at once;
        // every process knows when the last message is due, so the grace counts from then.
        let lastDue = t0 + plan.pushOffset(of: max(0, plan.totalMessages - 1))
        let deadline = max(MonotonicClock.nanoseconds(), lastDue) + nanoseconds(seconds: plan.deliveryWait)
        while MonotonicClock.nanoseconds() < deadline {
            let delivered = workers.reduce(0) { $0 + $1.deliveredCount.load(ordering: .relaxed) }
            if delivered >= expected { break }
            guard Interruption.sleep(milliseconds: 1) else { return }
            progress()
        }
    }

    private func progressSnapshot(_ workers: [LoopWorker]) -> RunTotals {
        var totals = RunTotals()
        for part in onEveryLoop(workers, { $0.snapshot() }) {
            if let part { totals.add(part) }
        }
        return totals
    }

    private func printProgress(_ current: RunTotals, previous: RunTotals, seconds: Double, elapsed: Double) {
        if plan.isChild {
            printOutput(ProgressLine(opened: current.connected, received: current.received, errors: current.errors.total).text)
            return
        }
        let rate = seconds > 0 ? Double(current.received - previous.received) / seconds : 0
        let what: String
        switch plan.mode {
        case .echo: what = "msg/s"
        case .push: what = "deliveries/s"
        case .connect: what = ""
        case .publish: what = "publishes/s"
        }
        var line = "  \(fixed(elapsed, 0)) s"
        if plan.mode != .connect {
            line += "  \(grouped(Int(rate))) \(what)"
            if current.latency.totalCount > 0 {
                line += "  p50 \(fixed(Double(current.latency.valueAtPercentile(50)) / 1000, 1)) us"
                line += "  p99 \(fixed(Double(current.latency.valueAtPercentile(99)) / 1000, 1)) us"
            }
        }
        line += "  errors \(current.errors.total)"
        printError(line)
    }
}

/// Runs `body` on every worker's loop and waits (up to `timeout` ms) for the answers.
func onEveryLoop<T: Sendable>(_ workers: [LoopWorker], timeout: Int64 = 5_000, _ body: @escaping @Sendable (LoopWorker) -> T) -> [T?] {
    let collector = Collector<T>(count: workers.count)
    for (index, worker) in workers.enumerated() {
        worker.loop.execute {
            let value = body(worker)
            collector.values.withLock { $0[index] = value }
            collector.done.add(1, ordering: .releasing)
        }
    }
    let deadline = MonotonicClock.nanoseconds() + timeout * 1_000_000
    while collector.done.load(ordering: .acquiring) < workers.count, MonotonicClock.nanoseconds() < deadline {
        sleep(untilNanoseconds: MonotonicClock.nanoseconds() + 200_000)
    }
    return collector.values.withLock { $0 }
}

private final class Collector<T: Sendable>: Sendable {
    let values: Mutex<[T?]>
    let done = Atomic<Int>(0)

    init(count: Int) {
        values = Mutex([T?](repeating: nil, count: count))
    }
}
