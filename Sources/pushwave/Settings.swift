import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Fills in the settings not given on the command line from the environment and from a
/// config file, by adding them to the arguments before ArgumentParser sees them: parsing and
/// validation stay in one place, and a value is checked the same way wherever it came from.
///
/// Every option `--NAME` can also come from the environment variable `PUSHWAVE_` + `NAME`
/// upper-cased with `-` turned into `_`, or from a `NAME = value` line of the file named by
/// `--config` (or `PUSHWAVE_CONFIG`). A flag on the command line wins over the environment,
/// which wins over the file, which wins over the default.
struct SettingsResolver {
    /// How a setting is written as arguments.
    enum Kind {
        /// `--NAME VALUE`, once.
        case option
        /// `--NAME VALUE`, as often as wanted.
        case repeatable
        /// `--NAME` when true; `--no-NAME` when false if `hasInversion`, else nothing.
        case flag(hasInversion: Bool)
    }

    /// The settings of `pushwave`, by flag name. The secrets (`PUSHWAVE_API_KEY`,
    /// `PUSHWAVE_TOKEN_SECRET`) are environment values of their own and have no flag, so
    /// they are not here; neither is `--config`, which would make files include files, nor
    /// the hidden `--worker-index` and `--metrics-directory` that `--processes` gives its workers.
    static let settings: [String: Kind] = [
        "host": .option, "port": .option, "threads": .option, "max-message-size": .option,
        "max-connections": .option, "idle-timeout": .option, "ping-interval": .option,
        "handshake-timeout": .option, "max-buffered-bytes": .option, "max-outbound-memory": .option, "shutdown-timeout": .option,
        "log-level": .option, "tls-cert": .repeatable, "tls-key": .repeatable, "tls-client-ca": .option,
        "deflate": .flag(hasInversion: true), "deflate-threshold": .option, "deflate-level": .option,
        "deflate-context-takeover": .flag(hasInversion: false), "deflate-window-bits": .option,
        "deflate-memory-level": .option, "raw-echo": .flag(hasInversion: false),
        "history": .repeatable, "history-max-bytes": .option, "api-key-file": .option,
        "token-secret-file": .option, "allowed-origin": .repeatable, "demo-tokens": .flag(hasInversion: false),
        "max-subscriptions": .option, "redis": .repeatable, "redis-max-pending": .option,
        "processes": .option,
        "redis-probe-interval": .option,
    ]

    /// A setting added from the environment or the file.
    struct Added {
        let arguments: [String]
        /// "environment variable PUSHWAVE_PORT" or "PATH:LINE", for messages.
        let source: String
    }

    /// The arguments to parse: the added settings, then the command line as given.
    private(set) var arguments: [String] = []
    private(set) var added: [Added] = []

    /// The environment variable of the setting `name`.
    static func environmentName(_ name: String) -> String {
        "PUSHWAVE_" + name.uppercased().replacingAll("-", with: "_")
    }

    /// Resolves `commandLine` (without the program name). `environment` answers a variable's
    /// value; `readFile` a file's text. Throws a `ValidationError` naming the source of a bad
    /// setting that can be judged without parsing (an unknown key, a bad boolean).
    init(
        commandLine: [String], environment: (String) -> String?, readFile: (String) throws -> String
    ) throws {
        let given = Self.namesGiven(in: commandLine)
        var fromFile: [String: [(value: String, line: Int)]] = [:]
        var configPath = Self.configPath(in: commandLine)
        if configPath == nil, let value = environment("PUSHWAVE_CONFIG"), !value.isEmpty { configPath = value }
        if let configPath {
            let text: String
            do { text = try readFile(configPath) } catch {
                throw ValidationError("--config \(configPath): cannot read the file: \(error)")
            }
            fromFile = try Self.parseFile(text, path: configPath)
        }
        for name in Self.settings.keys.sorted() where !given.contains(name) {
            guard let kind = Self.settings[name] else { continue }
            let variable = Self.environmentName(name)
            if let value = environment(variable), !value.isEmpty {
                // A repeatable setting takes one value from the environment: its values
                // (history rules) may contain any separator. More go in the file.
                try add(name, kind, values: [value], source: "environment variable \(variable)")
            } else if let lines = fromFile[name] {
                for entry in lines {
                    try add(name, kind, values: [entry.value], source: "\(configPath ?? ""):\(entry.line)")
                }
            }
        }
        arguments += commandLine
    }

    private mutating func add(_ name: String, _ kind: Kind, values: [String], source: String) throws {
        for value in values {
            let words: [String]
            switch kind {
            case .option, .repeatable:
                words = ["--\(name)", value]
            case .flag(let hasInversion):
                guard let on = Self.boolean(value) else {
                    throw ValidationError("\(source): \(name) must be true or false, not '\(value)'")
                }
                words = on ? ["--\(name)"] : hasInversion ? ["--no-\(name)"] : []
            }
            arguments += words
            added.append(Added(arguments: words, source: source))
        }
    }

    /// The source to blame for a parse failure whose message is `message`: the added setting
    /// that fails alone with the same message, or nil when the command line is to blame (or a
    /// combination, which ArgumentParser's message already describes).
    func source(of message: String) -> String? {
        for setting in added {
            do {
                _ = try PushwaveCommand.parseAsRoot(setting.arguments)
            } catch {
                if PushwaveCommand.message(for: error) == message { return setting.source }
            }
        }
        return nil
    }

    /// `true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0`, any case.
    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": true
        case "false", "no", "off", "0": false
        default: nil
        }
    }

    /// The settings named on the command line, `--no-deflate` counting as `deflate`.
    static func namesGiven(in commandLine: [String]) -> Set<String> {
        var names: Set<String> = []
        for word in commandLine {
            if word == "--" { break }
            guard word.hasPrefix("--") else { continue }
            var name = String(word.dropFirst(2).prefix { $0 != "=" })
            if name.hasPrefix("no-"), case .flag(hasInversion: true)? = settings[String(name.dropFirst(3))] {
                name = String(name.dropFirst(3))
            }
            names.insert(name)
        }
        return names
    }

    /// The value of `--config PATH` or `--config=PATH`, the last one winning as in ArgumentParser.
    static func configPath(in commandLine: [String]) -> String? {
        var path: String?
        var index = commandLine.startIndex
        while index < commandLine.endIndex, commandLine[index] != "--" {
            let word = commandLine[index]
            if word == "--config", index + 1 < commandLine.endIndex {
                path = commandLine[index + 1]
                index += 1
            } else if word.hasPrefix("--config=") {
                path = String(word.dropFirst("--config=".count))
            }
            index += 1
        }
        return path
    }

    /// `NAME = value` lines; blank lines and lines starting with `#` are skipped; a value may
    /// be wrapped in double quotes to keep its outer spaces.
    static func parseFile(_ text: String, path: String) throws -> [String: [(value: String, line: Int)]] {
        var result: [String: [(value: String, line: Int)]] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            let line = rawLine.trimmed
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ValidationError("\(path):\(lineNumber): expected NAME = value")
            }
            let name = String(line[..<equals].trimmed)
            var value = String(line[line.index(after: equals)...].trimmed)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            guard let kind = settings[name] else {
                throw ValidationError("\(path):\(lineNumber): unknown setting '\(name)' (settings are the flag names without --)")
            }
            if case .repeatable = kind {} else if let first = result[name]?.first {
                throw ValidationError("\(path):\(lineNumber): \(name) is already set on line \(first.line)")
            }
            result[name, default: []].append((value, lineNumber))
        }
        return result
    }

    /// The text of the file at `path`.
    static func readFile(_ path: String) throws -> String {
        guard let file = fopen(path, "r") else { throw SettingsFileError(errno: errno) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            bytes += chunk[..<count]
            if count < chunk.count { break }
        }
        if ferror(file) != 0 { throw SettingsFileError(errno: errno) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A config file that cannot be read, with the system's reason.
struct SettingsFileError: Error, CustomStringConvertible {
    let errno: Int32
    var description: String { String(cString: strerror(errno)) }
}

extension Substring {
    fileprivate var trimmed: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        let start = firstIndex { !isSpace($0) } ?? endIndex
        let end = lastIndex { !isSpace($0) }.map { index(after: $0) } ?? start
        return self[start..<Swift.max(start, end)]
    }
}

extension String {
    fileprivate func replacingAll(_ old: Character, with new: Character) -> String {
        String(map { $0 == old ? new : $0 })
    }
}
