import CEpollShim

#if canImport(Glibc)
import Glibc
#endif

// Thin wrappers shared by the reactor's types: the EINTR retry, close, and a two-piece send.

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

/// One send of up to two pieces (a frame header and its payload, or a ring buffer's two
/// segments), never raising SIGPIPE. Returns the bytes written, or -1 with `errno` set.
///
/// One piece (the common case: a flushed cork buffer) goes out with `send`, which spares the
/// kernel copying in and checking a message header and an I/O vector, as `sendmsg` must.
func sendPieces(_ fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Int {
    if second.count == 0 {
        return retryingInterrupts { pw_send(fd, first.baseAddress, first.count) }
    }
    var vectors = (
        iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress), iov_len: first.count),
        iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress), iov_len: second.count)
    )
    return withUnsafePointer(to: &vectors) { pointer in
        pointer.withMemoryRebound(to: iovec.self, capacity: 2) { iov in
            retryingInterrupts { pw_sendv(fd, iov, 2) }
        }
    }
}
