import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// The signals the `ServiceGroup` does not handle itself: SIGHUP reloads what can change
/// while running, and a second SIGINT or SIGTERM — the first one started the group's
/// graceful shutdown — exits at once, for an operator who will not wait for slow clients.
///
/// It is the first service of the group, so the group shuts it down last: it keeps
/// listening while the server drains.
struct SignalService: Service {
    let reload: @Sendable () -> Void
    let logger: Logger

    /// Blocks the signals in the calling thread, so that every thread made after it (the
    /// loops, the concurrency runtime's) inherits the mask and no signal is delivered
    /// asynchronously to a thread that would take the default action: they all arrive
    /// through the signal sequences (a signalfd on Linux). Call first thing in `main`.
    static func blockInEveryThread() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup, .sigint, .sigterm)
        var stopRequests = 0
        for await signal in signals.cancelOnGracefulShutdown() {
            if signal == .sighup {
                reload()
                continue
            }
            stopRequests += 1
            if stopRequests > 1 {
                logger.warning("second signal: exiting at once", metadata: ["signal": "\(signal)"])
                exit(1)
            }
            logger.info("shutting down", metadata: ["signal": "\(signal)"])
        }
    }
}
