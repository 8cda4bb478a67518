/// XOR masking of frame payloads (RFC 6455 §5.3).
///
/// The key is the 4 masking-key bytes exactly as they appear on the wire,
/// loaded as a little-endian `UInt32`: wire byte `j` is bits `8j..<8j+8`.
/// Payload byte `i` is XORed with key byte `i % 4`.
@_spi(Internals)
public enum Masking {
    /// Unmasks (or masks — XOR is its own inverse) `bytes` in place.
    ///
    /// `offset` is how many payload bytes of the same frame were already
    /// processed, so a payload that arrives split across reads unmasks
    /// correctly piece by piece.
    @inline(__always)
    public static func unmask(_ bytes: UnsafeMutableRawBufferPointer, key: UInt32, offset: Int) {
        guard let base = bytes.baseAddress else { return }
        xor(from: UnsafeRawPointer(base), to: base, count: bytes.count, key: rotated(key, by: offset))
    }

    /// Copies `count` bytes from `source` to `destination`, masking them with
    /// `key` on the way (the client's encoder masks while filling its send buffer).
    /// The regions must either coincide exactly or not overlap.
    @inline(__always)
    public static func mask(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int, key: UInt32) {
        xor(from: source, to: destination, count: count, key: key)
    }

    /// The key as seen from payload byte `offset`: key byte `offset % 4` moves to position 0.
    @inline(__always)
    private static func rotated(_ key: UInt32, by offset: Int) -> UInt32 {
        let shift = UInt32(truncatingIfNeeded: offset & 3) &* 8
        // Shifting a UInt32 by 32 is masked to 0 with &>>/&<<, so rotate by 0 stays the identity.
        return shift == 0 ? key : (key &>> shift) | (key &<< (32 &- shift))
    }

    /// Unmasks like ``unmask(_:key:offset:)`` from offset 0, and tells whether every unmasked
    /// byte is ASCII: a text payload that is needs no other UTF-8 check. Checking costs one OR
    /// per word of the pass that unmasks, instead of a second pass over the payload.
    public static func unmaskCheckingASCII(_ bytes: UnsafeMutableRawBufferPointer, key: UInt32) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        return xor(from: UnsafeRawPointer(base), to: base, count: bytes.count, key: key) & 0x8080_8080_8080_8080 == 0
    }

    /// Word-at-a-time XOR: 32 bytes per round in the main loop, then 8, then single bytes.
    /// Every word starts at a multiple of 8 (a multiple of 4) from the start, so
    /// the key repeated twice lines up with each word. Returns the OR of every byte written,
    /// spread over a word (its high bits tell whether any byte was not ASCII); callers that
    /// ignore it, once this is inlined, pay nothing for it.
    @inline(__always)
    @discardableResult
    private static func xor(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int, key: UInt32) -> UInt64 {
        let wideKey = UInt64(key) | (UInt64(key) &<< 32)
        var written: UInt64 = 0
        var index = 0
        while index &+ 32 <= count {
            written |= xorWord(from: source, to: destination, at: index, key: wideKey)
            written |= xorWord(from: source, to: destination, at: index &+ 8, key: wideKey)
            written |= xorWord(from: source, to: destination, at: index &+ 16, key: wideKey)
            written |= xorWord(from: source, to: destination, at: index &+ 24, key: wideKey)
            index &+= 32
        }
        while index &+ 8 <= count {
            written |= xorWord(from: source, to: destination, at: index, key: wideKey)
            index &+= 8
        }
        while index < count {
            let keyByte = UInt8(truncatingIfNeeded: key &>> (UInt32(truncatingIfNeeded: index & 3) &* 8))
            let byte = source.load(fromByteOffset: index, as: UInt8.self) ^ keyByte
            destination.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            written |= UInt64(byte)
            index &+= 1
        }
        return written
    }

    /// XORs one word in place (or from source to destination) and returns the result.
    @inline(__always)
    private static func xorWord(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, at index: Int, key: UInt64) -> UInt64 {
        // Little-endian loads keep byte order equal to wire order on every platform.
        let word = UInt64(littleEndian: source.loadUnaligned(fromByteOffset: index, as: UInt64.self)) ^ key
        destination.storeBytes(of: word.littleEndian, toByteOffset: index, as: UInt64.self)
        return word
    }
}
