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

    /// The machine's physical memory in bytes (0 when the system does not say): a base for
    /// defaults that should scale with the machine, such as a budget for queued output.
    public static var physicalMemory: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return 0 }
        return pages.multipliedReportingOverflow(by: pageSize).overflow ? Int.max : pages * pageSize
    }
}
