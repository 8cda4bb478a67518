/// Which topics keep how much history: `PATTERN=COUNT,AGE` as on the command line
/// (`--history 'news.*=1000,300s'`), the count and the age each optional (`news.*=1000`,
/// `chat=10m`). The age takes a unit: `ms`, `s`, `m` or `h`. The first rule whose pattern
/// matches a topic gives its limits; a topic no rule matches keeps no history.
public struct HistoryRule: Sendable, Equatable {
    /// A topic name, a prefix pattern `news.*` (any topic starting with `news.`), or `*`.
    public var pattern: TopicPattern
    public var limits: HistoryLimits

    public init(pattern: TopicPattern, limits: HistoryLimits) {
        self.pattern = pattern
        self.limits = limits
    }

    /// Why a rule could not be read.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Reads `PATTERN=COUNT,AGE`.
    public init(parsing text: String) throws(SyntaxError) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw SyntaxError(description: "\"\(text)\": expected PATTERN=COUNT,AGE (e.g. news.*=1000,300s)")
        }
        guard let pattern = TopicPattern(String(text[..<equals])) else {
            throw SyntaxError(description: "\"\(text)\": \"\(text[..<equals])\" is not a topic name, a prefix pattern such as news.*, or *")
        }
        self.pattern = pattern
        var limits = HistoryLimits()
        for part in text[text.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false) {
            if let count = Int(part), count >= 0, limits.maxCount == nil {
                limits.maxCount = count
            } else if let age = Self.milliseconds(part), limits.maxAgeMilliseconds == nil {
                limits.maxAgeMilliseconds = age
            } else {
                throw SyntaxError(description: "\"\(text)\": \"\(part)\" is neither a message count nor an age such as 300s")
            }
        }
        guard limits.maxCount != nil || limits.maxAgeMilliseconds != nil else {
            throw SyntaxError(description: "\"\(text)\": give a count, an age, or both")
        }
        self.limits = limits
    }

    /// The limits of the first rule matching `topic`.
    public static func limits(for topic: String, in rules: [HistoryRule]) -> HistoryLimits {
        rules.first { $0.pattern.matches(topic) }?.limits ?? .none
    }

    private static func milliseconds(_ text: Substring) -> Int64? {
        let units: [(suffix: String, factor: Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = Int64(text.dropLast(unit.suffix.count)), value > 0, value <= Int64.max / unit.factor else { return nil }
            return value * unit.factor
        }
        return nil
    }
}
