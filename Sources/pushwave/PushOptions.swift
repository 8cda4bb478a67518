import ArgumentParser
import Glibc
import Logging
import Push
import Redis

/// The push server's options: history, the publish API's keys, connection tokens, origins.
/// Secrets are read from the environment or from files, never from the command line (where
/// `ps` shows them).
struct PushOptions: ParsableArguments {
    @Option(
        name: .customLong("history"),
        help: ArgumentHelp(
            "Topics that keep history: PATTERN=COUNT,AGE, e.g. 'news.*=1000,300s' (count and age each optional; repeatable; the first match counts).",
            valueName: "rule"))
    var historyRules: [String] = []

    @Option(help: "One memory budget for the history of all topics, in bytes; past it the oldest messages of all go first.")
    var historyMaxBytes = 64 << 20

    @Option(help: "A file of API keys for POST /api/..., one per line (re-read on SIGHUP). Also: PUSHWAVE_API_KEY. Without a key the API answers 403.")
    var apiKeyFile: String?

    @Option(help: "A file of HS256 token secrets, one per line (several for rotation). Also: PUSHWAVE_TOKEN_SECRET. Without one, connections need no token (demo mode).")
    var tokenSecretFile: String?

    @Option(name: .customLong("allowed-origin"), help: ArgumentHelp("An Origin allowed to open WebSockets, e.g. 'https://*.example.com' (repeatable). Without one, any origin.", valueName: "pattern"))
    var allowedOrigins: [String] = []

    @Flag(help: "Serve GET /demo/token, handing out tokens for the chat topics (a demonstration: real deployments mint tokens in their own backend).")
    var demoTokens = false

    @Option(help: "Most subscriptions on one /ws connection.")
    var maxSubscriptions = 1_000

    @Option(name: .customLong("redis"), help: ArgumentHelp("Share topics with other processes through Redis, redis://HOST:PORT[/DB] (repeatable: topics are spread over the servers). Password: in the URL or PUSHWAVE_REDIS_PASSWORD.", valueName: "url"))
    var redisURLs: [String] = []

    @Option(help: "With --redis: most publications waiting for an unreachable Redis; more are refused (HTTP 503).")
    var redisMaxPending = 10_000

    @Option(help: "With --redis: seconds between PINGs on each subscriber connection to Redis; one unanswered for as long is replaced (0: never).")
    var redisProbeInterval = 3.0

    func validate() throws {
        for rule in historyRules {
            do { _ = try HistoryRule(parsing: rule) } catch { throw ValidationError("--history \(error.description)") }
        }
        for origin in allowedOrigins where OriginPattern(origin) == nil {
            throw ValidationError("--allowed-origin \"\(origin)\": expected scheme://host[:port], the host optionally starting with *.")
        }
        guard historyMaxBytes >= 0 else { throw ValidationError("--history-max-bytes must not be negative") }
        guard maxSubscriptions > 0 else { throw ValidationError("--max-subscriptions must be positive") }
        guard redisMaxPending > 0 else { throw ValidationError("--redis-max-pending must be positive") }
        guard redisProbeInterval >= 0, redisProbeInterval <= 86_400 else { throw ValidationError("--redis-probe-interval must be between 0 and 86400 seconds") }
        for url in redisURLs {
            do { _ = try RedisURL(parsing: url) } catch { throw ValidationError("--redis \(error.description)") }
        }
    }

    /// The configuration these options describe; throws a message naming the setting whose
    /// file or variable could not be used.
    func configuration(logger: Logger) throws -> PushConfiguration {
        var configuration = PushConfiguration()
        configuration.history = historyRules.compactMap { try? HistoryRule(parsing: $0) }
        configuration.historyMaxBytes = historyMaxBytes
        configuration.apiKeys = APIKeys(try apiKeys())
        configuration.tokens = try tokenSecrets().map { TokenVerifier(secrets: $0) }
        configuration.allowedOrigins = allowedOrigins.compactMap(OriginPattern.init)
        configuration.demoTokens = demoTokens
        configuration.maxSubscriptionsPerConnection = maxSubscriptions
        configuration.redis = redisURLs.compactMap { try? RedisURL(parsing: $0) }
        configuration.redisMaxPending = redisMaxPending
        configuration.redisProbeInterval = redisProbeInterval
        warnAboutOpenModes(configuration, logger: logger)
        return configuration
    }

    /// The API keys from `--api-key-file` and `PUSHWAVE_API_KEY`.
    func apiKeys() throws -> [String] {
        var keys: [String] = []
        if let path = apiKeyFile {
            do {
                keys += try APIKeys.keys(fromFile: path)
            } catch {
                throw RuntimeError("--api-key-file \(path): \(error.reason)")
            }
        }
        if let value = getenv("PUSHWAVE_API_KEY").map({ String(cString: $0) }), !value.isEmpty { keys.append(value) }
        return keys
    }

    private func tokenSecrets() throws -> TokenSecrets? {
        do {
            if let path = tokenSecretFile { return try TokenSecrets.fromFile(path) }
            if getenv("PUSHWAVE_TOKEN_SECRET") != nil { return try TokenSecrets.fromEnvironment("PUSHWAVE_TOKEN_SECRET") }
        } catch {
            throw RuntimeError("token secrets (\(tokenSecretFile.map { "--token-secret-file \($0)" } ?? "PUSHWAVE_TOKEN_SECRET")): \(error.reason)")
        }
        return nil
    }

    private func warnAboutOpenModes(_ configuration: PushConfiguration, logger: Logger) {
        if configuration.tokens == nil {
            logger.warning("no token secret configured: every connection may subscribe and publish to any topic (demo mode)")
        } else if configuration.allowedOrigins.isEmpty {
            logger.warning("tokens are required but any Origin is accepted: add --allowed-origin if browsers authenticate with cookies")
        }
        if configuration.apiKeys.isEmpty {
            logger.notice("no API key configured: the publish API answers 403")
        }
    }
}
