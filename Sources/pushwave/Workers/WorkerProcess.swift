import Reactor

#if canImport(Glibc)
import Glibc
#endif

/// One worker of `--processes`: this executable again, listening on the same port.
struct WorkerProcess {
    let index: Int
    private(set) var pid: pid_t = 0
    /// Monotonic time of the last start, in milliseconds.
    private(set) var startedAt: Int64 = 0
    /// Consecutive early deaths, for the restart delay.
    var quickFailures = 0

    init(index: Int) {
        self.index = index
    }

    /// Starts the worker with `arguments` (its own path first). Its signal mask blocks what
    /// `pushwave` blocks anyway, so the signals reach it through its signal service.
    mutating func start(executable: String, arguments: [String]) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&mask, signal) }
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, nil, &attributes, argv, environ)
        guard result == 0 else { throw RuntimeError("cannot start worker \(index): \(String(cString: strerror(result)))") }
        pid = child
        startedAt = MonotonicClock.milliseconds()
    }

    /// Sends `signal` to the worker if it runs.
    func send(_ signal: Int32) {
        if pid > 0 { kill(pid, signal) }
    }

    mutating func exited() {
        pid = 0
    }
}

/// How a worker ended, from `waitpid`'s status.
enum WorkerExit: CustomStringConvertible {
    case status(Int32)
    case signal(Int32)

    init(waitStatus: Int32) {
        let signal = waitStatus & 0x7F
        self = signal == 0 ? .status((waitStatus >> 8) & 0xFF) : .signal(signal)
    }

    var description: String {
        switch self {
        case .status(let code): "exit status \(code)"
        case .signal(let signal): "signal \(signal) (\(String(cString: strsignal(signal))))"
        }
    }
}
