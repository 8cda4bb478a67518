import Reactor
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C (SIGINT) and SIGTERM end a run early with the report of what was measured so far.
///
/// The signals are blocked in every thread (the mask is set before the loops' threads are
/// made, and they inherit it), so none kills the process; the main thread takes them in its
/// waits with `sigtimedwait`, which then return early. A parent of `--processes` passes an
/// interruption on to its children, which report what they measured, merged as usual.
enum Interruption {
    private static let flag = Atomic<Bool>(false)

    private static var signals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    /// Call first, before any thread exists.
    static func blockInEveryThread() {
        var set = signals
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Whether a signal has come (taking one that is pending).
    static var requested: Bool {
        if flag.load(ordering: .relaxed) { return true }
        return !sleep(untilNanoseconds: 0)
    }

    /// Sleeps until the monotonic clock reaches `deadline` (nanoseconds), or a signal comes.
    /// Returns false when interrupted (now or earlier).
    @discardableResult
    static func sleep(untilNanoseconds deadline: Int64) -> Bool {
        if flag.load(ordering: .relaxed) { return false }
        var set = signals
        while true {
            let remaining = max(0, deadline - MonotonicClock.nanoseconds())
            var timeout = timespec(tv_sec: Int(remaining / 1_000_000_000), tv_nsec: Int(remaining % 1_000_000_000))
            if sigtimedwait(&set, nil, &timeout) > 0 {
                flag.store(true, ordering: .relaxed)
                return false
            }
            // EAGAIN: the time is up; EINTR (another signal): wait for the rest.
            if errno != EINTR || remaining == 0 { return true }
        }
    }

    /// `sleep(untilNanoseconds:)` for a duration.
    @discardableResult
    static func sleep(milliseconds: Int64) -> Bool {
        sleep(untilNanoseconds: MonotonicClock.nanoseconds() + milliseconds * 1_000_000)
    }
}
