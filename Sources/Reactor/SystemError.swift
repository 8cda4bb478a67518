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

    /// An error for `call` with an explicit `errno` value.
    public init(_ call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    /// Captures the calling thread's current `errno`.
    init(_ call: String) {
        self.init(call, code: pw_errno())
    }

    /// The call, the `strerror` text and the number.
    public var description: String {
        "\(call): \(String(cString: strerror(code))) (errno \(code))"
    }
}
