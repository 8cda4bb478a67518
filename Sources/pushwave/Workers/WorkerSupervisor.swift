import Logging
import Reactor

#if canImport(Glibc)
import Glibc
#endif

/// `pushwave --processes N`: N worker processes that listen on one port (`SO_REUSEPORT`:
/// the kernel spreads new connections over them), each with its own loops and its own
/// descriptor limit, which is what lets one server hold more connections than one process may.
///
/// The supervisor itself serves nothing. It restarts a worker that dies (after a delay that
/// grows while a worker keeps dying young), passes SIGHUP on, and on SIGINT or SIGTERM passes
/// SIGTERM on and waits until every worker has drained; a second signal is passed on too,
/// and the workers then exit at once. A worker that fails while starting (a port in use, a
/// bad file) ends the whole server with status 1: restarting it would fail the same way.
/// Workers get SIGTERM if the supervisor itself dies.
///
/// It also makes the private directory through which the workers share their figures, so
/// that `/metrics` on the shared port answers for the whole server (`WorkerMetricsFiles`),
/// removes a dead worker's figures from it, and removes it when it stops.
struct WorkerSupervisor {
    let count: Int
    /// The command line each worker gets, with `--worker-index` and its share of
    /// `--max-connections` added per worker.
    let arguments: [String]
    let maxConnections: Int
    let logger: Logger
    let metricsDirectory: String

    /// A worker that dies within this time of its start died young.
    static let startupMilliseconds: Int64 = 2_000
    static let maxRestartDelayMilliseconds: Int64 = 10_000

    private enum Phase {
        case starting
        case running
        case stopping(signals: Int)
    }

    init(count: Int, arguments: [String], maxConnections: Int, logger: Logger) throws {
        self.count = count
        self.arguments = arguments
        self.maxConnections = maxConnections
        self.logger = logger
        metricsDirectory = try WorkerMetricsFiles.makeDirectory()
    }

    func run() throws -> Never {
        let executable: String
        do {
            executable = try Self.currentExecutable()
        } catch {
            WorkerMetricsFiles.removeDirectory(metricsDirectory, workers: count)
            throw error
        }
        var workers = (0..<count).map { WorkerProcess(index: $0) }
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGCHLD] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        for index in workers.indices {
            do {
                try workers[index].start(executable: executable, arguments: workerArguments(index))
            } catch {
                for worker in workers { worker.send(SIGKILL) }
                WorkerMetricsFiles.removeDirectory(metricsDirectory, workers: count)
                throw error
            }
        }
        logger.info("started \(count) workers", metadata: ["pids": "\(workers.map(\.pid))"])

        var phase = Phase.starting
        var restarts: [Int: Int64] = [:]  // worker index -> when to restart it
        let startedAt = MonotonicClock.milliseconds()
        while true {
            var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            let signal = sigtimedwait(&signals, nil, &timeout)
            if case .starting = phase, MonotonicClock.milliseconds() - startedAt > Self.startupMilliseconds { phase = .running }
            switch signal {
            case SIGHUP:
                for worker in workers { worker.send(SIGHUP) }
            case SIGINT, SIGTERM:
                let received: Int
                if case .stopping(let earlier) = phase { received = earlier + 1 } else { received = 1 }
                phase = .stopping(signals: received)
                logger.info(received == 1 ? "stopping the workers" : "second signal: the workers exit at once")
                restarts.removeAll()
                for worker in workers { worker.send(SIGTERM) }
            default:
                break
            }
            reap(&workers, phase: phase, restarts: &restarts)
            if case .stopping = phase, workers.allSatisfy({ $0.pid == 0 }) {
                logger.info("stopped")
                WorkerMetricsFiles.removeDirectory(metricsDirectory, workers: count)
                exit(0)
            }
            restartDue(&workers, restarts: &restarts, executable: executable)
        }
    }

    /// Collects every worker that exited; schedules its restart, or ends the server when
    /// it failed while starting.
    private func reap(_ workers: inout [WorkerProcess], phase: Phase, restarts: inout [Int: Int64]) {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0, let index = workers.firstIndex(where: { $0.pid == pid }) else { return }
            let exit = WorkerExit(waitStatus: status)
            let lifetime = MonotonicClock.milliseconds() - workers[index].startedAt
            workers[index].exited()
            WorkerMetricsFiles.removeFile(in: metricsDirectory, worker: index)
            switch phase {
            case .stopping:
                logger.info("worker \(index) stopped", metadata: ["how": "\(exit)"])
            case .starting where lifetime < Self.startupMilliseconds:
                if case .status(1) = exit {
                    logger.error("worker \(index) could not start (its message is above); stopping")
                    for worker in workers { worker.send(SIGKILL) }
                    WorkerMetricsFiles.removeDirectory(metricsDirectory, workers: count)
                    Glibc.exit(1)
                }
                fallthrough
            case .starting, .running:
                workers[index].quickFailures = lifetime < Self.startupMilliseconds ? workers[index].quickFailures + 1 : 0
                let delay = min(Self.maxRestartDelayMilliseconds, 500 << min(workers[index].quickFailures, 5))
                logger.error("worker \(index) died; restarting", metadata: ["how": "\(exit)", "pid": "\(pid)", "delay_ms": "\(delay)"])
                restarts[index] = MonotonicClock.milliseconds() + Int64(delay)
            }
        }
    }

    private func restartDue(_ workers: inout [WorkerProcess], restarts: inout [Int: Int64], executable: String) {
        let now = MonotonicClock.milliseconds()
        for (index, due) in restarts where due <= now {
            restarts[index] = nil
            do {
                try workers[index].start(executable: executable, arguments: workerArguments(index))
                logger.notice("worker \(index) restarted", metadata: ["pid": "\(workers[index].pid)"])
            } catch {
                logger.error("\(error)")
                restarts[index] = now + Self.maxRestartDelayMilliseconds
            }
        }
    }

    /// Each worker takes an even share of the limit plus a quarter: the kernel spreads
    /// connections by a hash of their addresses, close to evenly but not exactly (at 60,000
    /// connections over 4 workers, one got a few dozen more than its share).
    private func workerArguments(_ index: Int) -> [String] {
        let share = max(1, maxConnections / count + maxConnections / count / 4)
        return arguments + [
            "--worker-index", String(index), "--max-connections", String(share), "--processes", String(count),
            "--metrics-directory", metricsDirectory,
        ]
    }

    private static func currentExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { throw RuntimeError("cannot find this executable (/proc/self/exe)") }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The options the supervisor sets for each worker itself.
    private static let perWorkerOptions = ["--processes", "--max-connections", "--worker-index", "--metrics-directory"]

    /// The command line without the options the supervisor sets for each worker itself.
    static func workerCommandLine(_ original: [String]) -> [String] {
        var result: [String] = []
        var skipNext = false
        for argument in original {
            if skipNext {
                skipNext = false
                continue
            }
            if Self.perWorkerOptions.contains(argument) {
                skipNext = true
                continue
            }
            if Self.perWorkerOptions.contains(where: { argument.hasPrefix($0 + "=") }) {
                continue
            }
            result.append(argument)
        }
        return result
    }
}
