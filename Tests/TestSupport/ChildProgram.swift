import Glibc

/// A program a test runs to completion could not be started.
public struct ChildProgramError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}

/// Runs a program to completion, as tests need to (`openssl`, `python3`): `arguments[0]` is
/// looked up in `PATH`, standard input and error are `/dev/null`, standard output is
/// collected. Returns the exit status (128 + the signal's number when a signal ended it).
///
/// Built on `posix_spawnp` rather than Foundation's `Process`, whose scan of
/// `/proc/self/fd` reads past its buffer (AddressSanitizer reports it when many descriptors
/// are open, as while the tests run in parallel).
public func runChildProgram(_ arguments: [String]) throws -> (status: Int32, output: String) {
    precondition(!arguments.isEmpty, "runChildProgram needs a program")
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw ChildProgramError(description: "pipe failed: errno \(errno)") }
    // Close-on-exec, so that programs other threads start do not hold the write end open
    // (our read would then wait for them); the dup2 below gives the child its own copy.
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
    close(fds[1])
    guard spawned == 0 else {
        close(fds[0])
        throw ChildProgramError(description: "cannot start \(arguments[0]): error \(spawned)")
    }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16_384)
    while true {
        let count = read(fds[0], &buffer, buffer.count)
        if count > 0 {
            output += buffer[0..<count]
        } else if count < 0, errno == EINTR {
            continue
        } else {
            break
        }
    }
    close(fds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    let signal = status & 0x7F
    return (signal == 0 ? (status >> 8) & 0xFF : 128 + signal, String(decoding: output, as: UTF8.self))
}
