/// Writes frame headers and frames (RFC 6455 §5.2).
///
/// Lengths always use the shortest encoding. A server writes unmasked frames
/// (`maskKey: nil`); a client masks every frame with a fresh random key.
@_spi(Internals)
public enum FrameEncoder {
    /// The largest header: 2 bytes, an 8-byte length and a 4-byte masking key.
    public static let maxHeaderSize = 14

    /// How many bytes the header of a frame with this payload length takes.
    public static func headerSize(payloadLength: Int, masked: Bool) -> Int {
        let lengthFieldSize = payloadLength <= 125 ? 0 : (payloadLength <= 0xFFFF ? 2 : 8)
        return 2 + lengthFieldSize + (masked ? 4 : 0)
    }

    /// Writes a frame header at `destination`, which must have room for
    /// ``maxHeaderSize`` bytes. `maskKey` is the 4 wire bytes of the masking
    /// key loaded little-endian (see ``Masking``), or nil for an unmasked frame.
    /// `compressed` sets RSV1, which marks a permessage-deflate message (RFC 7692 §6).
    /// Returns the number of bytes written: 2 to 14.
    public static func writeHeader(
        into destination: UnsafeMutableRawPointer, opcode: Opcode, fin: Bool, payloadLength: Int, maskKey: UInt32?,
        compressed: Bool = false
    ) -> Int {
        precondition(payloadLength >= 0, "negative payload length")
        let first = (fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | opcode.rawValue
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        destination.storeBytes(of: first, as: UInt8.self)
        var written: Int
        if payloadLength <= 125 {
            destination.storeBytes(of: maskBit | UInt8(payloadLength), toByteOffset: 1, as: UInt8.self)
            written = 2
        } else if payloadLength <= 0xFFFF {
            destination.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt16(payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            written = 4
        } else {
            destination.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
            written = 10
        }
        if let maskKey {
            destination.storeBytes(of: maskKey.littleEndian, toByteOffset: written, as: UInt32.self)
            written += 4
        }
        return written
    }

    /// Writes a whole frame, header then payload (masked on the way when
    /// `maskKey` is given). `destination` must have room for
    /// `headerSize(payloadLength:masked:) + payload.count` bytes and must not
    /// overlap `payload`. Returns the number of bytes written.
    public static func writeFrame(
        into destination: UnsafeMutableRawPointer, opcode: Opcode, fin: Bool,
        payload: UnsafeRawBufferPointer, maskKey: UInt32?, compressed: Bool = false
    ) -> Int {
        let headerLength = writeHeader(
            into: destination, opcode: opcode, fin: fin, payloadLength: payload.count, maskKey: maskKey,
            compressed: compressed)
        guard let source = payload.baseAddress else { return headerLength }
        let payloadStart = destination + headerLength
        if let maskKey {
            Masking.mask(from: source, to: payloadStart, count: payload.count, key: maskKey)
        } else {
            payloadStart.copyMemory(from: source, byteCount: payload.count)
        }
        return headerLength + payload.count
    }
}
