#if canImport(Glibc)
import Glibc
#endif

/// Process limits that a server holding many connections needs raised.
public enum ResourceLimits {
    /// Raises the soft open-file limit toward `wanted` descriptors, as far as the hard limit
    /// allows (it is never lowered), and returns the limit now in force. Each connection and
    /// listener holds one descriptor, so this caps how many can be open at once.
    @discardableResult
    public static func raiseOpenFileLimit(wanted: Int = .max) -> Int {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        // Without the limit, assume the usual default rather than failing.
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        let target = min(limit.rlim_max, rlim_t(clamping: max(0, wanted)))
        if limit.rlim_cur < target {
            limit.rlim_cur = target
            _ = setrlimit(resource, &limit)
            _ = getrlimit(resource, &limit)
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Grows the process's descriptor table now to hold `count` descriptors (at most the
    /// open-file limit), so that accepting connections later never grows it. The kernel
    /// grows the table by doubling, and in a process with several threads each growth waits
    /// for an RCU grace period (about 12 ms measured on Linux 6.18) inside `accept`: a
    /// storm of new connections on a freshly started server would stall its loop that long
    /// at every doubling. The table never shrinks; it costs the kernel about 8 bytes per
    /// descriptor. Returns whether it holds `count` now.
    @discardableResult
    public static func reserveDescriptorTable(count: Int) -> Bool {
        var limits = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return false }
        let limit = Int(clamping: limits.rlim_cur)
        let highest = Int32(clamping: min(count, limit) - 1)
        let probe = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard probe >= 0 else { return false }
        defer { close(probe) }
        guard highest > probe else { return true }
        // The lowest free descriptor at or above `highest`: the table grows to cover it.
        let copy = fcntl(probe, F_DUPFD_CLOEXEC, highest)
        guard copy >= 0 else { return false }
        close(copy)
        return count <= limit
    }

    /// The machine's physical memory in bytes (0 when the system does not say): a base for
    /// defaults that should scale with the machine, such as a budget for queued output.
    public static var physicalMemory: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return 0 }
        return pages.multipliedReportingOverflow(by: pageSize).overflow ? Int.max : pages * pageSize
    }
}
