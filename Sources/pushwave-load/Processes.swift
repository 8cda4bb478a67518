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
        let spawnedAt = MonotonicClock.nanoseconds()
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
        let outputs = ChildOutputs(children: children)

        // Wait until every child has connected (or ended), showing their merged progress.
        var progress = MergedProgress(count: children.count)
        outputs.readUntil({ $0.allSatisfy { $0.ready || $0.ended } }) { index, line in
            if line.hasPrefix("READY") {
                outputs.states[index].ready = true
                outputs.states[index].opened = Int(line.split(separator: " ").last ?? "") ?? 0
            } else if let report = ProgressLine(line) {
                progress.update(index, report)
            }
        } tick: {
            if showProgress { printError("  connecting: \(grouped(progress.opened)) open, \(grouped(progress.errors)) failed") }
        }
        for (index, state) in outputs.states.enumerated() where !state.ready {
            failures.append("process \(index) ended before connecting")
        }
        let opened = outputs.states.reduce(0) { $0 + $1.opened }
        // With --json too (its readable output goes to standard error): a script may act on it.
        if showProgress || plan.json {
            let seconds = Double(MonotonicClock.nanoseconds() - spawnedAt) / 1e9
            printError("  \(grouped(opened)) connections open after \(fixed(seconds, 2)) s; "
                + (plan.hold > 0 ? "holding them \(fixed(plan.hold, 0)) s" : "starting"))
        }

        // Started even after an interruption: the children then report at once.
        let t0 = MonotonicClock.nanoseconds() + 50_000_000 + nanoseconds(seconds: plan.hold)
        for (index, child) in children.enumerated() where outputs.states[index].ready {
            child.send("GO \(t0)\n")
        }

        // Collect each child's last line (its report), with one merged progress line a second.
        var last = [String?](repeating: nil, count: children.count)
        let started = MonotonicClock.nanoseconds()
        var previous = (received: 0, time: started)
        outputs.readUntil({ $0.allSatisfy(\.ended) }) { index, line in
            if let report = ProgressLine(line) {
                progress.update(index, report)
            } else if !line.isEmpty {
                last[index] = line
            }
        } tick: {
            guard showProgress, plan.mode != .connect else { return }
            let now = MonotonicClock.nanoseconds()
            let rate = Double(progress.received - previous.received) / max(1e-9, Double(now - previous.time) / 1e9)
            previous = (progress.received, now)
            let what = plan.mode == .echo ? "msg/s" : plan.mode == .publish ? "publishes/s" : "deliveries/s"
            printError("  \(fixed(Double(now - started) / 1e9, 0)) s  \(grouped(Int(rate))) \(what)  errors \(progress.errors)  (\(children.count) processes)")
        }

        var result = ProcessResult(totals: RunTotals(), details: [:])
        for (index, child) in children.enumerated() {
            let status = child.wait()
            guard let line = last[index], let json = try? JSON(parsing: line), let totals = RunTotals(childJSON: json) else {
                if outputs.states[index].ready { failures.append("process \(index) reported nothing (exit status \(status))") }
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

/// Splits what a descriptor delivers into lines, reading only when `poll` said it can.
final class LineReader {
    private(set) var fd: Int32
    private var buffer: [UInt8] = []
    private(set) var ended = false

    init(fd: Int32) {
        self.fd = fd
    }

    /// Reads once (the descriptor is readable) and returns the complete lines; at the end
    /// of the stream also the unterminated rest.
    func readAvailable() -> [String] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count > 0 {
            buffer += chunk[..<count]
        } else if count == 0 || errno != EINTR {
            ended = true
        }
        var lines: [String] = []
        while let newline = buffer.firstIndex(of: 10) {
            lines.append(String(decoding: buffer[..<newline], as: UTF8.self))
            buffer.removeSubrange(...newline)
        }
        if ended, !buffer.isEmpty {
            lines.append(String(decoding: buffer, as: UTF8.self))
            buffer.removeAll()
        }
        return lines
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}

/// The children's standard outputs, read together with `poll`, so that the parent can show
/// one progress line merged from all of them and pass Ctrl-C on to them.
final class ChildOutputs {
    struct State {
        var ready = false
        var opened = 0
        var ended = false
    }

    private let children: [Child]
    var states: [State]
    private var interruptionForwarded = false

    init(children: [Child]) {
        self.children = children
        states = Array(repeating: State(), count: children.count)
    }

    /// Hands every line to `line` until `done(states)` holds, calling `tick` once a second.
    func readUntil(_ done: ([State]) -> Bool, line: (Int, String) -> Void, tick: () -> Void) {
        var nextTick = MonotonicClock.nanoseconds() + 1_000_000_000
        while !done(states) {
            forwardInterruption()
            var descriptors = children.enumerated().map { index, child in
                pollfd(fd: states[index].ended ? -1 : child.output.fd, events: Int16(POLLIN), revents: 0)
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), 100)
            if ready > 0 {
                for (index, descriptor) in descriptors.enumerated() where descriptor.fd >= 0 && descriptor.revents != 0 {
                    for text in children[index].output.readAvailable() { line(index, text) }
                    if children[index].output.ended { states[index].ended = true }
                }
            }
            if MonotonicClock.nanoseconds() >= nextTick {
                nextTick += 1_000_000_000
                tick()
            }
        }
    }

    /// A Ctrl-C in a terminal reaches the children too; a signal sent to the parent alone is
    /// passed on, so that they stop and report.
    private func forwardInterruption() {
        guard !interruptionForwarded, Interruption.requested else { return }
        interruptionForwarded = true
        for (index, child) in children.enumerated() where !states[index].ended {
            kill(child.pid, SIGINT)
        }
    }
}

/// A child's progress, one line a second on its standard output: `PROGRESS opened received errors`.
struct ProgressLine {
    var opened: Int
    var received: Int
    var errors: Int

    init(opened: Int, received: Int, errors: Int) {
        self.opened = opened
        self.received = received
        self.errors = errors
    }

    init?(_ line: String) {
        let fields = line.split(separator: " ")
        guard fields.count == 4, fields[0] == "PROGRESS", let opened = Int(fields[1]), let received = Int(fields[2]),
            let errors = Int(fields[3])
        else { return nil }
        self.init(opened: opened, received: received, errors: errors)
    }

    var text: String { "PROGRESS \(opened) \(received) \(errors)" }
}

/// The latest progress of every child, summed.
struct MergedProgress {
    private var latest: [ProgressLine]

    init(count: Int) {
        latest = Array(repeating: ProgressLine(opened: 0, received: 0, errors: 0), count: count)
    }

    mutating func update(_ index: Int, _ line: ProgressLine) {
        latest[index] = line
    }

    var opened: Int { latest.reduce(0) { $0 + $1.opened } }
    var received: Int { latest.reduce(0) { $0 + $1.received } }
    var errors: Int { latest.reduce(0) { $0 + $1.errors } }
}
