import CEpollShim

#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, and the `errno` it left.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The name of the call that failed, e.g. `"bind"`.
    public let call: String
    /// The `errno` value.
    public let code: Int32

    public init(_ call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    /// Captures the calling thread's current `errno`.
    init(_ call: String) {
        self.init(call, code: pw_errno())
    }

    public var description: String {
        "\(call): \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// Runs a system call that returns -1 on failure, retrying on `EINTR`.
@inline(__always)
func retryingInterrupts(_ body: () -> Int) -> Int {
    while true {
        let result = body()
        if result >= 0 || pw_errno() != EINTR { return result }
    }
}

/// Closes a descriptor. `close` must not be retried on EINTR on Linux (the fd is already gone).
@inline(__always)
func closeDescriptor(_ fd: Int32) {
    _ = Glibc.close(fd)
}

/// One `sendmsg` of up to two pieces (a frame header and its payload, or a ring buffer's two
/// segments), never raising SIGPIPE. Returns the bytes written, or -1 with `errno` set.
func sendPieces(_ fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Int {
    var vectors = (
        iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress), iov_len: first.count),
        iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress), iov_len: second.count)
    )
    let vectorCount: Int32 = second.count > 0 ? 2 : 1
    return withUnsafePointer(to: &vectors) { pointer in
        pointer.withMemoryRebound(to: iovec.self, capacity: 2) { iov in
            retryingInterrupts { pw_sendv(fd, iov, vectorCount) }
        }
    }
}
