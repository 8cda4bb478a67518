#if canImport(Glibc)
import Glibc
#endif

/// A failure while running, not a bad argument (a port in use, an unreadable key file): it
/// is printed alone, without the usage text that belongs to bad arguments.
struct RuntimeError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }

    /// Prints `pushwave: <description>` to standard error and exits with status 1.
    func exit() -> Never {
        var line = "pushwave: \(description)\n"
        line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        Glibc.exit(1)
    }
}
