import Reactor

#if canImport(Glibc)
import Push
import Glibc
#endif

/// `--processes P`: the run split over P child processes of this executable, each with its
/// own slice of the connections (and its own descriptor limit and ephemeral ports).
///
/// Each child connects its share, prints `READY`, and waits for `GO <t0>` on its standard
/// input, so that all of them start at the same monotonic instant (the clock is system-wide);
/// at the end it prints its counts and histogram buckets as one JSON line, which the parent
/// merges into one report.
struct ParentRun {
    let plan: RunPlan
    let showProgress: Bool

    func run() throws -> (ProcessResult, failures: [String]) {
        let executable = try currentExecutable()
        let childThreads = plan.threads
        var children: [Child] = []
        var failures: [String] = []
        for index in 0..<plan.processCount {
            let arguments = childArguments(index: index, threads: childThreads)
            children.append(try Child.spawn(executable: executable, arguments: arguments))
        }
        if showProgress {
            printError("  \(plan.processCount) processes started, \(childThreads) threads each; connecting")
        }

        // Wait until every child has connected.
        var ready = [Bool](repeating: false, count: children.count)
        var opened = 0
        for (index, child) in children.enumerated() {
            while let line = child.output.readLine() {
                if line.hasPrefix("READY") {
                    ready[index] = true
                    opened += Int(line.split(separator: " ").last ?? "") ?? 0
                    break
                }
            }
            if !ready[index] { failures.append("process \(index) ended before connecting") }
        }
        if showProgress { printError("  \(grouped(opened)) connections open; starting") }

        let t0 = MonotonicClock.nanoseconds() + 50_000_000
        for (index, child) in children.enumerated() where ready[index] {
            child.send("GO \(t0)\n")
        }

        var result = ProcessResult(totals: RunTotals(), details: [:])
        for (index, child) in children.enumerated() {
            var last: String?
            while let line = child.output.readLine() {
                if !line.isEmpty { last = line }
            }
            let status = child.wait()
            guard let last, let json = try? JSON(parsing: last), let totals = RunTotals(childJSON: json) else {
                if ready[index] { failures.append("process \(index) reported nothing (exit status \(status))") }
                continue
            }
            result.totals.add(totals)
            if case .object(let details)? = json["child"]?["error_details"] {
                for (key, value) in details { result.details[key, default: 0] += value.intValue ?? 0 }
            }
        }
        return (result, failures)
    }

    /// This command line for child `index`: the same options, plus its place in the run.
    private func childArguments(index: Int, threads: Int) -> [String] {
        var arguments: [String] = []
        var skipNext = false
        for argument in CommandLine.arguments.dropFirst() {
            if skipNext {
                skipNext = false
                continue
            }
            if argument == "--processes" || argument == "--threads" {
                skipNext = true
                continue
            }
            if argument.hasPrefix("--processes=") || argument.hasPrefix("--threads=") || argument == "--json" { continue }
            arguments.append(argument)
        }
        arguments += [
            "--threads", String(threads), "--json",
            "--child-index", String(index), "--child-count", String(plan.processCount),
        ]
        return arguments
    }

    private func currentExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { throw PlanError("cannot find this executable (/proc/self/exe)") }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A child process with pipes to its standard input and output.
final class Child {
    let pid: pid_t
    let input: Int32
    let output: LineReader

    private init(pid: pid_t, input: Int32, output: Int32) {
        self.pid = pid
        self.input = input
        self.output = LineReader(fd: output)
    }

    static func spawn(executable: String, arguments: [String]) throws -> Child {
        var toChild: (Int32, Int32) = (-1, -1)
        var fromChild: (Int32, Int32) = (-1, -1)
        guard withUnsafeMutableBytes(of: &toChild, { pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }) == 0,
            withUnsafeMutableBytes(of: &fromChild, { pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) }) == 0
        else { throw PlanError("pipe failed") }
        // The parent's ends must not leak into the children.
        _ = fcntl(toChild.1, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fromChild.0, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild.0, 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild.1, 1)
        posix_spawn_file_actions_addclose(&actions, toChild.0)
        posix_spawn_file_actions_addclose(&actions, fromChild.1)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(toChild.0)
        close(fromChild.1)
        guard result == 0 else {
            close(toChild.1)
            close(fromChild.0)
            throw PlanError("cannot start a child process: \(String(cString: strerror(result)))")
        }
        return Child(pid: pid, input: toChild.1, output: fromChild.0)
    }

    func send(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            _ = write(input, bytes.baseAddress, bytes.count)
        }
    }

    /// Waits for the child to exit; returns its exit status (or 128 + signal).
    func wait() -> Int32 {
        close(input)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        output.close()
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}

/// Reads lines from a descriptor.
final class LineReader {
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var ended = false

    init(fd: Int32) {
        self.fd = fd
    }

    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            if ended {
                guard !buffer.isEmpty else { return nil }
                let line = String(decoding: buffer, as: UTF8.self)
                buffer.removeAll()
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer += chunk[..<count]
            } else if count == 0 || errno != EINTR {
                ended = true
            }
        }
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}
