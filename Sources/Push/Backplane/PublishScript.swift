import COpenSSLShim

/// The Lua script that publishes through Redis. Running it as one script makes the offset
/// and the PUBLISH atomic, so the offsets in a channel rise by one in the order Redis
/// delivers them, the same order on every node.
///
/// KEYS[1] `pushwave:TOPIC:offset`, KEYS[2] `pushwave:TOPIC:epoch`; ARGV[1] the channel,
/// ARGV[2] an epoch to use if the topic has none yet, ARGV[3] KIND PAYLOAD. The epoch is
/// created once (a Redis that lost its data starts a new epoch, so older positions are
/// recognised as meaningless). Returns the offset.
enum PublishScript {
    static let source = """
        local epoch = redis.call('GET', KEYS[2])
        if not epoch then
          epoch = ARGV[2]
          redis.call('SET', KEYS[2], epoch, 'NX')
        end
        local offset = redis.call('INCR', KEYS[1])
        redis.call('PUBLISH', ARGV[1], offset .. ' ' .. epoch .. ' ' .. ARGV[3])
        return offset
        """

    /// The script's SHA-1 in hex, as `SCRIPT LOAD` answers and `EVALSHA` takes it.
    static let sha1: String = {
        var digest = [UInt8](repeating: 0, count: 20)
        let bytes = Array(source.utf8)
        _ = bytes.withUnsafeBytes { input in digest.withUnsafeMutableBufferPointer { pw_sha1(input.baseAddress, input.count, $0.baseAddress) } }
        return digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }()

    /// `SCRIPT LOAD`, sent first on every (re)connect: Redis runs a connection's commands in
    /// order, so every `EVALSHA` behind it finds the script, and each publication carries
    /// 40 bytes of script name instead of the whole script.
    static var loadArguments: [[UInt8]] {
        [Array("SCRIPT".utf8), Array("LOAD".utf8), Array(source.utf8)]
    }

    /// The arguments of `EVALSHA` for one publication.
    static func arguments(topic: String, body: [UInt8], newEpoch: String) -> [[UInt8]] {
        let channel = BackplaneFrame.channel(of: topic)
        return [
            Array("EVALSHA".utf8), Array(sha1.utf8), Array("2".utf8), Array((channel + ":offset").utf8), Array((channel + ":epoch").utf8),
            Array(channel.utf8), Array(newEpoch.utf8), body,
        ]
    }
}
