import CEpollShim

#if canImport(Glibc)
import Glibc
#endif

/// Where a ``TCPConnection``'s bytes meet its socket: the plain socket, and the seam where an
/// encrypting layer (TLS) sits between the socket and the protocol above.
///
/// A connection without a transport (`transport` is nil, the default) makes these same system
/// calls inline, so plain sockets pay no dynamic call per read or write. Subclass it to
/// transform the byte stream, and set ``TCPConnection/transport`` before the connection is
/// adopted by a listener or connects. Every method runs on the connection's loop thread.
///
/// Results follow one convention: a count of bytes (0 meaning end of input for ``receive(from:into:)``),
/// or `-errno` on failure, with `-EAGAIN` when the socket has nothing more to give or take now.
///
/// What a TLS transport has to do:
/// - ``handshake(on:)``: drive the handshake with the bytes the socket has, writing its own
///   records; return `.pending` until it completes. The connection calls it on every socket
///   event and calls `connected()` only once it returns `.complete`.
/// - ``receive(from:into:)``: read ciphertext from the socket (into a buffer of its own, or
///   the loop's), decrypt, and copy plaintext into `buffer`. A result shorter than `buffer`
///   tells the connection that the socket is drained: epoll is edge-triggered and will not
///   report bytes left behind, so keep reading until `buffer` is full or the socket says
///   `EAGAIN`. A close notification from the peer is the end of input (0).
/// - ``send(to:_:_:)``: encrypt plaintext and write the records. Return how many plaintext
///   bytes it took; records it could not write yet stay in its own buffer, which it writes
///   before anything new and reports through ``hasBufferedOutput``. Plaintext it does not
///   take waits in the connection's send buffer and is offered again. Take less only when
///   the socket is full (it wrote short or said `EAGAIN`): epoll reports the writable edge
///   that brings the rest back only after that.
/// - ``flush(to:)``: write the records still buffered, when the socket is writable again.
/// - ``shutdown(on:)``: write the close notification (best effort) before the connection
///   sends FIN or closes after a graceful close.
open class SocketTransport {
    /// How far ``handshake(on:)`` got.
    public enum HandshakeProgress: Sendable, Equatable {
        /// Ready for application data: `connected()` follows.
        case complete
        /// Waiting for the socket (to become readable or writable).
        case pending
        /// The handshake failed, with an `errno`-style code for `closed(.error(_:))`.
        case failed(Int32)
        /// Not now: the transport's share of handshake work for this loop iteration is spent
        /// (handshakes cost CPU). The connection goes on the ready list and calls again in a
        /// later iteration, so a storm of handshakes cannot starve established connections.
        case yielded
    }

    /// A transport for the plain socket; subclasses call it from their own initialisers.
    public init() {}

    /// Runs the handshake as far as the socket allows. The plain socket has none.
    open func handshake(on fd: Int32) -> HandshakeProgress {
        .complete
    }

    /// Reads plaintext into `buffer`: its count, 0 at the end of input, or `-errno`.
    open func receive(from fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = pw_read(fd, buffer.baseAddress, buffer.count)
        return count >= 0 ? count : -Int(pw_errno())
    }

    /// Writes the plaintext of both pieces in order: how many bytes it took, or `-errno`.
    open func send(to fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Int {
        let written = sendPieces(fd, first, second)
        return written >= 0 ? written : -Int(pw_errno())
    }

    /// True when the last ``receive(from:into:)`` left input behind (in the socket or in the
    /// transport) although it returned less than a full buffer, e.g. because decrypted
    /// records did not fill the buffer exactly: the connection reads again rather than
    /// waiting for an edge that will not come.
    open var hasBufferedInput: Bool { false }

    /// True while the transport holds output of its own that the socket has not taken.
    open var hasBufferedOutput: Bool { false }

    /// Writes buffered output: 0 once none is left, or `-errno` (`-EAGAIN`: the socket is full).
    open func flush(to fd: Int32) -> Int {
        0
    }

    /// The connection is about to send FIN, or to close after a graceful close.
    open func shutdown(on fd: Int32) {}
}
