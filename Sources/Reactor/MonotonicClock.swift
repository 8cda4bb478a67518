#if canImport(Glibc)
import Glibc
#endif

/// Milliseconds and nanoseconds of CLOCK_MONOTONIC: the only clock the loop uses, so that
/// wall-clock changes never fire or delay timers.
enum MonotonicClock {
    static func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    static func milliseconds() -> Int64 {
        nanoseconds() / 1_000_000
    }
}
