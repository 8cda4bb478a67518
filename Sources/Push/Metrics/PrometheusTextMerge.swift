/// Sums several Prometheus text expositions (format 0.0.4) into one: the figures of the
/// worker processes of one server (`pushwave --processes N`), each rendered by the worker
/// itself, added up per series so that the server answers for all of them.
///
/// The texts come from other processes, so this is a parser of semi-trusted input: it is
/// small and strict, skips (and counts) any line it does not fully understand, and never
/// traps. What it keeps:
///
/// - `# TYPE name type` lines (`counter`, `gauge`, `histogram`, `summary`, `untyped`); other
///   comments are ignored. A family keeps the type it was first declared with; a text that
///   declares another type for it has that family's samples skipped.
/// - Sample lines `name{label="value",...} value [timestamp]`. A sample belongs to the
///   family of its name, or for `_bucket`, `_sum` and `_count` to the histogram (or summary)
///   family declared in the same text; a sample of no declared family is `untyped`. Samples
///   are keyed by name and label set (labels sorted by name, values as escaped), and summed
///   across texts: counters, gauges, histogram buckets, sums and counts alike. A summary's
///   quantiles cannot be summed and are left out (its `_sum` and `_count` are kept).
///   Timestamps are dropped. A sample that repeats within one text is skipped.
/// - Integers stay integers (while the sum fits in 64 bits); anything else is summed as a
///   `Double`.
@_spi(Internals)
public struct PrometheusTextMerge {
    /// Bounds on what one merge holds, whatever the texts say.
    public struct Limits: Sendable {
        /// Longer lines are skipped.
        public var maxLineBytes = 4096
        /// Samples past this many distinct series are skipped.
        public var maxSeries = 10_000

        public init() {}
    }

    private enum Value: Equatable {
        case integer(Int64)
        case double(Double)

        static func + (a: Value, b: Value) -> Value {
            if case .integer(let x) = a, case .integer(let y) = b {
                let (sum, overflow) = x.addingReportingOverflow(y)
                if !overflow { return .integer(sum) }
            }
            return .double(a.double + b.double)
        }

        var double: Double {
            switch self {
            case .integer(let value): Double(value)
            case .double(let value): value
            }
        }

        var text: String {
            switch self {
            case .integer(let value): return String(value)
            case .double(let value):
                if value.isNaN { return "NaN" }
                if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
                return String(value)
            }
        }
    }

    private struct Family {
        let type: String
        /// Series keys in the order first seen.
        var order: [String] = []
    }

    private static let types: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped"]

    private let limits: Limits
    private let reserved: Set<String>
    private var familyOrder: [String] = []
    private var families: [String: Family] = [:]
    /// Every series' sum and family, by key. A key belongs to one family only (`x_count` may
    /// be a histogram's in one text and untyped in another), so that no series is written twice.
    private var series: [String: (family: String, value: Value)] = [:]

    /// Lines skipped so far, for being malformed, over a limit, of a conflicting type or
    /// repeated within their text.
    public private(set) var skippedLines = 0
    /// Texts added so far.
    public private(set) var textsAdded = 0

    /// `reserved`: family names the caller writes itself; samples of these names (and their
    /// `_bucket`, `_sum`, `_count`) are skipped.
    public init(limits: Limits = Limits(), reserved: Set<String> = []) {
        self.limits = limits
        self.reserved = reserved
    }

    /// Adds one exposition's samples to the sums; returns this text's own value of the
    /// label-free sample `reading` (nil if it has none, or it was skipped).
    @discardableResult
    public mutating func add(_ text: some Collection<UInt8>, reading: String? = nil) -> Double? {
        textsAdded += 1
        var read: Double?
        let bytes = Array(text)
        var declared: [String: String] = [:]  // this text's TYPE lines
        var seen: Set<String> = []  // this text's samples, to refuse repeats
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let line = bytes[start..<end]
            start = end + 1
            if line.isEmpty { continue }
            switch line.count <= limits.maxLineBytes ? addLine(line, declared: &declared, seen: &seen) : .skipped {
            case .skipped: skippedLines += 1
            case .ignored: break
            case .added(let sample): if sample.key == reading { read = sample.value.double }
            }
        }
        return read
    }

    /// The sum of the label-free sample `name` over every text, or nil if no text had it.
    public func value(of name: String) -> Double? {
        series[name]?.value.double
    }

    /// The merged exposition: families in the order first seen, each with its `# TYPE` line
    /// and its series in the order first seen.
    public var text: String {
        var out = ""
        for name in familyOrder {
            guard let family = families[name] else { continue }
            out += "# TYPE \(name) \(family.type)\n"
            for key in family.order {
                guard let value = series[key]?.value else { continue }
                out += "\(key) \(value.text)\n"
            }
        }
        return out
    }

    // MARK: Lines

    private enum LineOutcome {
        /// Malformed, over a limit, of a conflicting type or a repeat: counted in `skippedLines`.
        case skipped
        /// A comment, or a summary's quantile (left out on purpose).
        case ignored
        case added(Sample)
    }

    /// Adds one line.
    private mutating func addLine(_ line: ArraySlice<UInt8>, declared: inout [String: String], seen: inout Set<String>) -> LineOutcome {
        if line.first == UInt8(ascii: "#") { return comment(line, declared: &declared) ? .ignored : .skipped }
        guard let sample = Self.sample(line) else { return .skipped }
        let family: String
        let type: String
        if let own = declared[sample.name] {
            (family, type) = (sample.name, own)
        } else if let base = Self.base(of: sample.name), let baseType = declared[base],
            baseType == "histogram" || (baseType == "summary" && !sample.name.hasSuffix("_bucket"))
        {
            (family, type) = (base, baseType)
        } else {
            (family, type) = (sample.name, "untyped")
        }
        guard !reserved.contains(family), !reserved.contains(sample.name) else { return .skipped }
        if type == "summary", family == sample.name { return .ignored }  // a quantile: not summable, left out
        if let existing = families[family], existing.type != type { return .skipped }
        guard seen.insert(sample.key).inserted else { return .skipped }
        if let existing = series[sample.key] {
            guard existing.family == family else { return .skipped }
            series[sample.key] = (family, existing.value + sample.value)
            return .added(sample)
        }
        guard series.count < limits.maxSeries else { return .skipped }
        series[sample.key] = (family, sample.value)
        if families[family] == nil {
            families[family] = Family(type: type)
            familyOrder.append(family)
        }
        families[family]?.order.append(sample.key)
        return .added(sample)
    }

    /// A `# TYPE` line is recorded for this text; other comments (`# HELP`, free text) are
    /// ignored. A malformed or conflicting `# TYPE` is false.
    private mutating func comment(_ line: ArraySlice<UInt8>, declared: inout [String: String]) -> Bool {
        let words = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard words.count >= 2, words[1].elementsEqual("TYPE".utf8) else { return true }
        guard words.count == 4, words[0].elementsEqual("#".utf8), Self.isMetricName(words[2]) else { return false }
        let name = String(decoding: words[2], as: UTF8.self)
        let type = String(decoding: words[3], as: UTF8.self)
        guard Self.types.contains(type), declared[name] == nil else { return false }
        if let existing = families[name], existing.type != type { return false }
        declared[name] = type
        return true
    }

    /// The family a `_bucket`, `_sum` or `_count` sample may belong to.
    private static func base(of name: String) -> String? {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && name.count > suffix.count {
            return String(name.dropLast(suffix.count))
        }
        return nil
    }

    // MARK: Samples

    private struct Sample {
        let name: String
        /// The name and the sorted label set, as written out.
        let key: String
        let value: Value
    }

    /// Parses `name[{labels}] value [timestamp]`, or nil.
    private static func sample(_ line: ArraySlice<UInt8>) -> Sample? {
        var index = line.startIndex
        while index < line.endIndex, isNameByte(line[index], first: index == line.startIndex, colon: true) { index += 1 }
        guard index > line.startIndex else { return nil }
        let name = String(decoding: line[line.startIndex..<index], as: UTF8.self)
        var labels: [(name: String, value: String)] = []
        if index < line.endIndex, line[index] == UInt8(ascii: "{") {
            guard let parsed = Self.labels(line, from: &index) else { return nil }
            labels = parsed
        }
        let fields = line[index...].split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard index < line.endIndex, line[index] == UInt8(ascii: " ") || line[index] == UInt8(ascii: "\t"),
            fields.count == 1 || (fields.count == 2 && isTimestamp(fields[1])),
            let value = Self.value(fields[0])
        else { return nil }
        labels.sort { $0.name < $1.name }
        for position in labels.indices.dropFirst() where labels[position].name == labels[position - 1].name { return nil }
        let key = labels.isEmpty ? name : name + "{" + labels.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ",") + "}"
        return Sample(name: name, key: key, value: value)
    }

    /// Parses `{name="value",...}` (a trailing comma allowed) from `index`, leaving `index`
    /// after the `}`. Values are kept escaped; only `\\`, `\"` and `\n` are valid escapes.
    private static func labels(_ line: ArraySlice<UInt8>, from index: inout ArraySlice<UInt8>.Index) -> [(name: String, value: String)]? {
        var labels: [(name: String, value: String)] = []
        index += 1
        while true {
            guard index < line.endIndex else { return nil }
            if line[index] == UInt8(ascii: "}") {
                index += 1
                return labels
            }
            let nameStart = index
            while index < line.endIndex, isNameByte(line[index], first: index == nameStart, colon: false) { index += 1 }
            guard index > nameStart, index + 1 < line.endIndex, line[index] == UInt8(ascii: "="), line[index + 1] == UInt8(ascii: "\"") else {
                return nil
            }
            let name = String(decoding: line[nameStart..<index], as: UTF8.self)
            index += 2
            let valueStart = index
            while true {
                guard index < line.endIndex else { return nil }
                let byte = line[index]
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\") {
                    guard index + 1 < line.endIndex, [UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "n")].contains(line[index + 1]) else {
                        return nil
                    }
                    index += 2
                } else {
                    index += 1
                }
            }
            guard let value = String(validating: line[valueStart..<index], as: UTF8.self) else { return nil }
            labels.append((name, value))
            index += 1  // the closing quote
            guard index < line.endIndex else { return nil }
            if line[index] == UInt8(ascii: ",") {
                index += 1
            } else if line[index] != UInt8(ascii: "}") {
                return nil
            }
        }
    }

    /// A value as Prometheus writes one: an integer, a decimal or exponent number, `+Inf`,
    /// `-Inf` or `NaN` (spelled only so).
    private static func value(_ field: ArraySlice<UInt8>) -> Value? {
        guard !field.isEmpty, field.count <= 64 else { return nil }
        let text = String(decoding: field, as: UTF8.self)
        switch text {
        case "+Inf", "Inf": return .double(.infinity)
        case "-Inf": return .double(-.infinity)
        case "NaN": return .double(.nan)
        default: break
        }
        let body = field.first == UInt8(ascii: "-") || field.first == UInt8(ascii: "+") ? field.dropFirst() : field
        guard let first = body.first, isDigit(first) || first == UInt8(ascii: ".") else { return nil }
        if body.allSatisfy(isDigit), let integer = Int64(text) { return .integer(integer) }
        guard field.allSatisfy({ isDigit($0) || "+-.eE".utf8.contains($0) }), let double = Double(text), double.isFinite else { return nil }
        return .double(double)
    }

    private static func isTimestamp(_ field: ArraySlice<UInt8>) -> Bool {
        let digits = field.first == UInt8(ascii: "-") ? field.dropFirst() : field
        return !digits.isEmpty && digits.count <= 19 && digits.allSatisfy(isDigit)
    }

    private static func isMetricName(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        return bytes.indices.allSatisfy { isNameByte(bytes[$0], first: $0 == bytes.startIndex, colon: true) }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names, without `:` for label names.
    private static func isNameByte(_ byte: UInt8, first: Bool, colon: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"): true
        case UInt8(ascii: ":"): colon
        case UInt8(ascii: "0")...UInt8(ascii: "9"): !first
        default: false
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
