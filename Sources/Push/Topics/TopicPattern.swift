/// Which topics a permission covers: one exact name, every name under a prefix (`news.*`),
/// or every topic (`*`).
///
/// Written as text in tokens (and later in the history configuration):
/// - `*` alone: every topic;
/// - `prefix.*`: every topic whose name starts with `prefix.` (so `news.*` covers
///   `news.sport` and `news.sport.live`, but not `news` itself);
/// - anything else: that exact name. A `*` anywhere else makes the text invalid, so that no
///   one writes `news*` or `*.sport` expecting a wildcard and gets a literal name.
///
/// Names are compared byte for byte in UTF-8, not with `String`'s canonical equivalence: a
/// permission must cover exactly the names it spells.
public enum TopicPattern: Sendable, Hashable, CustomStringConvertible {
    /// Every topic.
    case all
    /// The topic with this name.
    case exact(String)
    /// Every topic whose name starts with this prefix, which ends with a `.`.
    case prefix(String)

    /// The longest pattern text accepted, in bytes.
    public static let maximumLength = 256

    /// The pattern `text` spells, or nil if it is empty, longer than ``maximumLength`` bytes,
    /// holds a control character, or a `*` other than as the whole text or after a final `.`.
    public init?(_ text: String) {
        let utf8 = text.utf8
        guard !utf8.isEmpty, utf8.count <= Self.maximumLength, !utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return nil }
        let star = UInt8(ascii: "*")
        if utf8.elementsEqual([star]) {
            self = .all
        } else if utf8.last == star {
            let prefix = text.utf8.dropLast()
            // `.*` after at least one character, and no other star.
            guard prefix.count >= 2, prefix.last == UInt8(ascii: "."), !prefix.contains(star) else { return nil }
            self = .prefix(String(decoding: prefix, as: UTF8.self))
        } else {
            guard !utf8.contains(star) else { return nil }
            self = .exact(text)
        }
    }

    /// Whether `topic` is covered.
    public func matches(_ topic: String) -> Bool {
        switch self {
        case .all: true
        case .exact(let name): topic.utf8.elementsEqual(name.utf8)
        case .prefix(let prefix): topic.utf8.starts(with: prefix.utf8)
        }
    }

    /// The pattern as written.
    public var description: String {
        switch self {
        case .all: "*"
        case .exact(let name): name
        case .prefix(let prefix): prefix + "*"
        }
    }
}

extension Sequence<TopicPattern> {
    /// Whether one of the patterns covers `topic`: what a token's `topics` or `publish`
    /// claim grants.
    func grants(_ topic: String) -> Bool {
        contains { $0.matches(topic) }
    }
}
