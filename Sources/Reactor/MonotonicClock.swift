#if canImport(Glibc)
import Glibc
#endif

/// Milliseconds and nanoseconds of `CLOCK_MONOTONIC`: the only clock the loop uses, so that
/// wall-clock changes never fire or delay timers. System-wide, so processes on one machine
/// agree on it; reading it is a vDSO call, not a system call.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary point (the boot).
    @inlinable
    public static func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        // Wrapping arithmetic: no overflow check on a path the load generator takes per message.
        return Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
    }

    /// Milliseconds since the same point as ``nanoseconds()``.
    @inlinable
    public static func milliseconds() -> Int64 {
        nanoseconds() / 1_000_000
    }
}
