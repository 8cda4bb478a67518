import Synchronization

/// The epochs offered to Redis with every publication and read, of which the script keeps one
/// only when it creates a topic's history (`BackplaneScript`).
///
/// Drawing each from the system's generator cost one `getrandom` call per publication, for a
/// value that is almost always thrown away. Instead one random seed is drawn per process and
/// every candidate is a bijective mix of the seed and a counter: no two candidates of a
/// process are equal, so a topic that Redis lost and this node creates again gets a new epoch
/// (older positions stay meaningless, as PROTOCOL.md says), and candidates of different
/// processes are as unrelated as their seeds. An epoch needs to be unique, not secret.
///
/// Safe from any thread.
final class EpochCandidates: Sendable {
    private let seed: UInt64
    private let counter = Atomic<UInt64>(0)

    init(seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.seed = seed
    }

    /// The next candidate: 16 hexadecimal digits, like `HistoryStore.randomEpoch()`.
    func next() -> String {
        let value = Self.mix(seed &+ counter.add(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15)
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// A 64-bit finalizer (xor-shift and odd multiplications, each invertible): distinct
    /// inputs give distinct outputs, and neighbouring inputs look unrelated.
    static func mix(_ input: UInt64) -> UInt64 {
        var value = input
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
