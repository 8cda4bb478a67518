import Dispatch
import Glibc
import Reactor
import Synchronization

/// Runs an EventLoop on a thread of its own for a test, and lets the test run code on it.
public final class LoopThread: Sendable {
    public let loop: EventLoop
    private let group: EventLoopGroup

    public init(options: EventLoop.Options = EventLoop.Options()) throws {
        group = try EventLoopGroup(count: 1, options: options)
        loop = group.loops[0]
        try group.start { _ in }
    }

    /// Runs `body` on the loop's thread and returns its result.
    public func sync<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) throws -> Result {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Swift.Result<Result, any Error>?>(nil)
        loop.execute {
            let value = Swift.Result { try body() }
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    public func stop() {
        group.stop()
        group.wait()
    }
}

/// Polls `condition` until it holds or `seconds` pass.
public func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
    while DispatchTime.now().uptimeNanoseconds < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}


/// A blocking connect to 127.0.0.1 for tests; returns the socket or nil when refused.
public func connectBlocking(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if result != 0 {
        close(fd)
        return nil
    }
    return fd
}

/// Writes all of `bytes` to a blocking socket.
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written <= 0 { return }
        offset += written
    }
}

/// Reads from a blocking socket until `count` bytes, end of input, or `seconds` pass.
public func readBytes(_ fd: Int32, count: Int, seconds: Int = 5) -> [UInt8] {
    var timeout = timeval(tv_sec: seconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while result.count < count {
        let received = read(fd, &buffer, min(buffer.count, count - result.count))
        if received <= 0 { break }
        result += buffer[..<received]
    }
    return result
}

/// Reads until the peer closes (or `seconds` pass) and returns everything.
public func readToEnd(_ fd: Int32, seconds: Int = 5) -> [UInt8] {
    readBytes(fd, count: Int.max, seconds: seconds)
}

/// Counts the outcomes of many test clients, across threads, and why the failures failed:
/// a large-count test that fails says how (close codes, mismatches), not only how many.
public final class Tally: Sendable {
    public let succeeded = Atomic<Int>(0)
    public let failed = Atomic<Int>(0)
    /// Clients whose connection (or handshake) completed, for tests that pace their connects.
    public let opened = Atomic<Int>(0)
    public let closeReasons = Mutex<[CloseReason]>([])
    private let failureClasses = Mutex<[String: Int]>([:])

    public init() {}

    public func record(success: Bool) {
        if success {
            succeeded.add(1, ordering: .relaxed)
        } else {
            record(failure: "unclassified")
        }
    }

    /// A failed client, with what went wrong ("close 1006: handshake timed out",
    /// "mismatch at message 3", ...); failures of the same class are counted together.
    public func record(failure: String) {
        failed.add(1, ordering: .relaxed)
        failureClasses.withLock { $0[failure, default: 0] += 1 }
    }

    /// Clients that succeeded or failed so far.
    public var finished: Int { succeeded.load(ordering: .relaxed) + failed.load(ordering: .relaxed) }

    /// A line for an expectation's message: the counts, and the failures by class, most
    /// frequent first; clients that never finished (out of `expected`) are a class of their own.
    public func summary(expected: Int) -> String {
        var classes = failureClasses.withLock { $0 }
        let unfinished = expected - finished
        if unfinished > 0 { classes["unfinished (no outcome before the wait ran out)"] = unfinished }
        let listed = classes.sorted { $0.value > $1.value }.map { "\($0.value) × \($0.key)" }
        return "\(succeeded.load(ordering: .relaxed)) of \(expected) succeeded"
            + (listed.isEmpty ? "" : "; failures: " + listed.joined(separator: ", "))
    }
}
