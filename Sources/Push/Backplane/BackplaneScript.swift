import COpenSSLShim

/// The Lua scripts of the backplane, named by their SHA-1 and loaded on every (re)connect.
///
/// Keys of a topic: `pushwave:TOPIC:offset`, `pushwave:TOPIC:epoch` and, for topics with
/// history, the stream `pushwave:TOPIC:stream`, whose entry `OFFSET-0` holds the message
/// with that offset (fields `d` KIND PAYLOAD, `e` its epoch, `t` Redis's clock in ms).
enum BackplaneScript {
    /// Publishes one message. Running it as one script makes the offset, the stream entry
    /// and the PUBLISH atomic, so the offsets in a channel rise by one in the order Redis
    /// delivers them, the same order on every node, and the stream holds exactly what the
    /// channel carried.
    ///
    /// KEYS offset, epoch, stream; ARGV[1] the channel, ARGV[2] an epoch to use if the topic
    /// has none yet, ARGV[3] KIND PAYLOAD, ARGV[4] the stream's length (0: no stream),
    /// ARGV[5] the stream's lifetime in ms after the last message (0: none). The epoch is
    /// created once (a Redis that lost its data starts a new epoch, so older positions are
    /// recognised as meaningless). A stream whose last entry is ahead of the offset (its
    /// offset key was lost, not the stream) belongs to no epoch any more and starts again.
    /// Returns the offset.
    static let publish = Script(source: """
        local epoch = redis.call('GET', KEYS[2])
        if not epoch then
          epoch = ARGV[2]
          redis.call('SET', KEYS[2], epoch)
        end
        local offset = redis.call('INCR', KEYS[1])
        local length = tonumber(ARGV[4])
        if length > 0 then
          local clock = redis.call('TIME')
          local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
          local id = offset .. '-0'
          local added = redis.pcall('XADD', KEYS[3], 'MAXLEN', '~', length, id, 'd', ARGV[3], 'e', epoch, 't', now)
          if type(added) == 'table' and added.err then
            redis.call('DEL', KEYS[3])
            redis.call('XADD', KEYS[3], 'MAXLEN', '~', length, id, 'd', ARGV[3], 'e', epoch, 't', now)
          end
          local lifetime = tonumber(ARGV[5])
          if lifetime > 0 then redis.call('PEXPIRE', KEYS[3], lifetime) end
        end
        redis.call('PUBLISH', ARGV[1], offset .. ' ' .. epoch .. ' ' .. ARGV[3])
        return offset
        """)

    /// Where a topic stands and the stream's messages from an offset on, read at one instant:
    /// `[EPOCH, OFFSET, NOW_MS, [[ID, [FIELD, VALUE, ...]], ...]]` (see `StreamRange`).
    ///
    /// KEYS offset, epoch, stream; ARGV[1] the first offset wanted, ARGV[2] at most how many
    /// entries (0: none, only the position), ARGV[3] an epoch to create if the topic has
    /// none, so that a topic's epoch always comes from Redis, even before its first message.
    static let range = Script(source: """
        local epoch = redis.call('GET', KEYS[2])
        if not epoch then
          epoch = ARGV[3]
          redis.call('SET', KEYS[2], epoch)
        end
        local offset = tonumber(redis.call('GET', KEYS[1]) or '0')
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local entries = {}
        local count = tonumber(ARGV[2])
        if count > 0 then
          entries = redis.call('XRANGE', KEYS[3], ARGV[1] .. '-0', '+', 'COUNT', count)
        end
        return {epoch, offset, now, entries}
        """)

    static let all = [publish, range]

    /// A script's source and its SHA-1 in hex, as `SCRIPT LOAD` answers and `EVALSHA` takes it.
    struct Script {
        let source: String
        let sha1: String

        init(source: String) {
            self.source = source
            var digest = [UInt8](repeating: 0, count: 20)
            let bytes = Array(source.utf8)
            _ = bytes.withUnsafeBytes { input in digest.withUnsafeMutableBufferPointer { pw_sha1(input.baseAddress, input.count, $0.baseAddress) } }
            sha1 = digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }

        /// `SCRIPT LOAD`, sent first on every (re)connect: Redis runs a connection's commands
        /// in order, so every `EVALSHA` behind it finds the script, and each call carries 40
        /// bytes of script name instead of the whole script.
        var loadArguments: [[UInt8]] {
            [Array("SCRIPT".utf8), Array("LOAD".utf8), Array(source.utf8)]
        }

        /// `EVALSHA` of this script with a topic's three keys.
        func call(topic: String, _ arguments: [[UInt8]]) -> [[UInt8]] {
            let channel = BackplaneFrame.channel(of: topic)
            return [
                Array("EVALSHA".utf8), Array(sha1.utf8), Array("3".utf8), Array((channel + ":offset").utf8),
                Array((channel + ":epoch").utf8), Array((channel + ":stream").utf8),
            ] + arguments
        }
    }

    /// How a topic's stream is kept, from its history limits: as many entries as the count
    /// limit (or `defaultLength` when only an age is given), and for as long as the age limit
    /// after the last message; none for a topic without history.
    struct StreamShape: Equatable {
        var length: Int
        var lifetimeMilliseconds: Int64

        static let defaultLength = 10_000
        static let none = StreamShape(length: 0, lifetimeMilliseconds: 0)

        init(length: Int, lifetimeMilliseconds: Int64) {
            self.length = length
            self.lifetimeMilliseconds = lifetimeMilliseconds
        }

        init(_ limits: HistoryLimits) {
            guard limits.keepsMessages else {
                self = .none
                return
            }
            length = limits.maxCount ?? Self.defaultLength
            lifetimeMilliseconds = limits.maxAgeMilliseconds ?? 0
        }
    }

    /// The arguments of `EVALSHA` for one publication.
    static func publishArguments(topic: String, body: [UInt8], newEpoch: String, shape: StreamShape) -> [[UInt8]] {
        publish.call(topic: topic, [
            Array(BackplaneFrame.channel(of: topic).utf8), Array(newEpoch.utf8), body,
            Array(String(shape.length).utf8), Array(String(shape.lifetimeMilliseconds).utf8),
        ])
    }

    /// The arguments of `EVALSHA` for a position and up to `count` entries from `first` on.
    static func rangeArguments(topic: String, first: UInt64, count: Int, newEpoch: String) -> [[UInt8]] {
        range.call(topic: topic, [Array(String(first).utf8), Array(String(count).utf8), Array(newEpoch.utf8)])
    }
}
