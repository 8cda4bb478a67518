#if canImport(Glibc)
import Glibc
#endif

/// Real time, for what is stated in real time: token expiry (`exp`, `nbf`, `iat`). Everything
/// else (timeouts, history ages) uses the loop's monotonic clock.
enum WallClock {
    /// Seconds since the Unix epoch.
    static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
