import Logging
@_spi(Internals) import Push
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How the workers of `pushwave --processes N` answer `/metrics` (and `/healthz`) for the
/// whole server: each worker writes its own Prometheus text to a file in a private directory
/// the supervisor made (`/dev/shm/pushwave-metrics.XXXXXX`, mode 0700: only this user can
/// read or write it), and the worker that receives the scrape reads every file and sums them
/// with `PrometheusTextMerge`.
///
/// Why files rather than asking the other workers over sockets: the answer needs no
/// round trip between processes, so a scrape never waits on a sibling (a worker that hangs
/// cannot stall it) and the HTTP router stays synchronous; every worker sums the same files,
/// so whichever worker the kernel picks gives the same totals; and since each worker's
/// counters only grow, and it rewrites its file whenever it renders, the summed counters never
/// go back from one scrape to the next while the workers live. The price is freshness: a
/// sibling's figures are up to `publishIntervalMilliseconds` old (the answering worker's own
/// are live). The files live on tmpfs, so writing and reading them waits on no device.
///
/// A worker writes `.worker-I.tmp` and renames it to `worker-I.prom`, so a reader sees a
/// whole text or the previous one. The supervisor removes a dead worker's file, and a file
/// older than `staleAfterSeconds` (a worker that no longer runs its loop) is left out: either
/// way the worker is counted in `pushwave_metrics_workers_missing` until it writes again.
/// A worker's counters start again from zero when it is replaced (Prometheus's `rate()` reads
/// the drop as a counter reset).
final class WorkerMetricsFiles: Sendable {
    let directory: String
    let index: Int
    let count: Int
    private let logger: Logger
    /// One writer at a time in this process, so that a text rendered earlier never replaces
    /// a later one.
    private let writing = Mutex<Void>(())
    private let warnedAboutWriting = Atomic<Bool>(false)
    private let warnedAboutSkipping = Atomic<Bool>(false)

    /// How often a worker writes its file even when no one scrapes it.
    static let publishIntervalMilliseconds: Int64 = 500
    static let staleAfterSeconds = 5
    /// Larger files are left out (the worker counted missing): a worker's text is a few KiB.
    static let maxFileBytes = 1 << 20
    /// Written by the merge itself, so skipped in the workers' texts.
    static let workersGauge = "pushwave_workers"
    static let missingGauge = "pushwave_metrics_workers_missing"
    /// The one per-worker family (N series): how the kernel spreads the connections.
    static let workerConnectionsGauge = "pushwave_worker_connections_open"

    init(directory: String, index: Int, count: Int, logger: Logger) {
        self.directory = directory
        self.index = index
        self.count = count
        self.logger = logger
    }

    static func path(in directory: String, worker: Int) -> String {
        "\(directory)/worker-\(worker).prom"
    }

    /// Renders this worker's text with `render` and writes it to its file; returns the text.
    func publish(_ render: () -> [UInt8]) -> [UInt8] {
        writing.withLock { _ in
            let text = render()
            if !write(text), !warnedAboutWriting.exchange(true, ordering: .relaxed) {
                logger.warning(
                    "cannot write this worker's metrics; the other workers leave it out of /metrics",
                    metadata: ["directory": "\(directory)", "error": "\(String(cString: strerror(errno)))"])
            }
            return text
        }
    }

    private func write(_ text: [UInt8]) -> Bool {
        let temporary = "\(directory)/.worker-\(index).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return false }
        var written = 0
        let complete = text.withUnsafeBytes { bytes -> Bool in
            while written < bytes.count {
                let result = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
                if result < 0, errno == EINTR { continue }
                guard result > 0 else { return false }
                written += result
            }
            return true
        }
        close(fd)
        guard complete, rename(temporary, Self.path(in: directory, worker: index)) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    /// Another worker's latest text, or nil if it has none that is whole, recent and small
    /// enough.
    private func read(worker: Int) -> [UInt8]? {
        let fd = open(Self.path(in: directory, worker: worker), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_size <= Self.maxFileBytes else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        guard now.tv_sec - status.st_mtim.tv_sec <= Self.staleAfterSeconds else { return nil }
        // One byte more than the size, to notice a file that grew (it is then read again next time).
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size) + 1)
        var filled = 0
        while filled < bytes.count {
            let result = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if result < 0, errno == EINTR { continue }
            guard result >= 0 else { return nil }
            if result == 0 { break }
            filled += result
        }
        guard filled < bytes.count else { return nil }
        bytes.removeSubrange(filled...)
        return bytes
    }

    /// Every worker's figures summed (this worker's from `own`, the live text), how many
    /// workers had none to add, and each worker's open connections (nil for those).
    func merge(own: [UInt8]) -> (merge: PrometheusTextMerge, missing: Int, connections: [Double?]) {
        var merge = PrometheusTextMerge(reserved: [Self.workersGauge, Self.missingGauge, Self.workerConnectionsGauge])
        var missing = 0
        var connections: [Double?] = []
        for worker in 0..<count {
            guard let text = worker == index ? own : read(worker: worker) else {
                missing += 1
                connections.append(nil)
                continue
            }
            connections.append(merge.add(text, reading: "pushwave_connections_open"))
        }
        if merge.skippedLines > 0, !warnedAboutSkipping.exchange(true, ordering: .relaxed) {
            logger.warning("skipped malformed lines in the workers' metrics", metadata: ["lines": "\(merge.skippedLines)"])
        }
        return (merge, missing, connections)
    }

    /// The server's `/metrics`: the sums, then how many workers there are and how many were
    /// left out, and each worker's open connections.
    func exposition(own: [UInt8]) -> [UInt8] {
        let (merge, missing, connections) = merge(own: own)
        var text = merge.text + """
            # TYPE \(Self.workersGauge) gauge
            \(Self.workersGauge) \(count)
            # TYPE \(Self.missingGauge) gauge
            \(Self.missingGauge) \(missing)
            # TYPE \(Self.workerConnectionsGauge) gauge

            """
        for (worker, open) in connections.enumerated() {
            if let open { text += "\(Self.workerConnectionsGauge){worker=\"\(worker)\"} \(open)\n" }
        }
        return Array(text.utf8)
    }

    // MARK: The supervisor's side

    /// Makes the private directory: on tmpfs (`/dev/shm`) when there is one, else in
    /// `$TMPDIR` or `/tmp`; mode 0700.
    static func makeDirectory() throws -> String {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
        var template = Array("\(base)/pushwave-metrics.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw RuntimeError("cannot make a directory for the workers' metrics in \(base): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// Forgets a worker that died, so that its figures are not summed while it is replaced.
    static func removeFile(in directory: String, worker: Int) {
        unlink(path(in: directory, worker: worker))
    }

    /// Removes the directory and every worker's files.
    static func removeDirectory(_ directory: String, workers: Int) {
        for worker in 0..<workers {
            unlink(path(in: directory, worker: worker))
            unlink("\(directory)/.worker-\(worker).tmp")
        }
        rmdir(directory)
    }
}
