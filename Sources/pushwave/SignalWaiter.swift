#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT, SIGTERM and SIGHUP into events the main thread waits for. The signals are blocked
/// in every thread (the loops' threads inherit the mask), so none is delivered
/// asynchronously; the main thread takes them with `sigtimedwait`.
struct SignalWaiter {
    private var set = sigset_t()

    /// Call before creating any thread.
    init() {
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits up to `milliseconds` (forever when nil) for a signal; returns it, or nil.
    func wait(milliseconds: Int? = nil) -> Int32? {
        var set = self.set
        if let milliseconds {
            var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
            let signal = sigtimedwait(&set, nil, &timeout)
            return signal > 0 ? signal : nil
        }
        var signal: Int32 = 0
        return sigwait(&set, &signal) == 0 ? signal : nil
    }
}
