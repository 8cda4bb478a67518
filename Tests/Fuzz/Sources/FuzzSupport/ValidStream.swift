import WebSocket

/// A stream of frames that breaks no rule, built from a script of fuzzer bytes, and what a
/// parser must deliver from it. Encoded here, independently of the library's encoder.
///
/// Each item of the script starts with an operation byte: bits 0–1 pick a message (0, 1),
/// a ping or pong (2) or a close (3). For a message, bit 2 picks text, bits 3–4 the number
/// of fragments (1–4, cut anywhere, even inside a character), bit 6 puts a ping or pong
/// after every fragment but the last, bit 7 allows long payloads (2-byte lengths). The
/// bytes that follow give lengths, contents and masking keys; an exhausted script reads
/// as zeros.
struct ValidStream {
    private(set) var bytes: [UInt8] = []
    private(set) var messages = 0
    /// The payload bytes of the messages (control frames not included, as in the probe's counts).
    private(set) var payloadBytes = 0
    private(set) var controlFrames = 0

    private let masked: Bool
    private let script: UnsafeRawBufferPointer
    private var position = 0

    init(script: UnsafeRawBufferPointer, role: Role) {
        self.script = script
        masked = role == .server
        while position < script.count {
            let operation = next()
            switch operation & 0x03 {
            case 0, 1: addMessage(operation)
            case 2: addPingOrPong(operation)
            default: addClose(operation)
            }
        }
    }

    private mutating func next() -> UInt8 {
        guard position < script.count else { return 0 }
        defer { position += 1 }
        return script[position]
    }

    private mutating func addMessage(_ operation: UInt8) {
        let isText = operation & 0x04 != 0
        let isLong = operation & 0x80 != 0
        let content = isText ? text(scalars: Int(next() % 64) * (isLong ? 16 : 1)) : binary(isLong: isLong)
        let fragmentCount = 1 + Int((operation >> 3) & 0x03)
        let cuts = [0] + (1..<fragmentCount).map { _ in Int(next()) * 16 % (content.count + 1) }.sorted() + [content.count]
        for index in 0..<fragmentCount {
            let isLast = index == fragmentCount - 1
            let opcode: UInt8 = index > 0 ? 0x0 : (isText ? 0x1 : 0x2)
            appendFrame(opcode: opcode, fin: isLast, payload: content[cuts[index]..<cuts[index + 1]])
            if !isLast && operation & 0x40 != 0 {
                addPingOrPong(next())
            }
        }
        messages += 1
        payloadBytes += content.count
    }

    private mutating func addPingOrPong(_ operation: UInt8) {
        let payload = (0..<Int(next()) % 126).map { _ in next() }
        appendFrame(opcode: operation & 0x04 != 0 ? 0xA : 0x9, fin: true, payload: payload[...])
        controlFrames += 1
    }

    private mutating func addClose(_ operation: UInt8) {
        var payload: [UInt8] = []
        if operation & 0x04 != 0 {
            let codes: [UInt16] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
            let code = codes[Int(next() % 16)]
            // At most 30 characters of at most 4 bytes: the reason fits in 123 bytes.
            payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + text(scalars: Int(next() % 31))
        }
        appendFrame(opcode: 0x8, fin: true, payload: payload[...])
        controlFrames += 1
    }

    private mutating func binary(isLong: Bool) -> [UInt8] {
        var length = Int(next())
        if isLong { length = length * 8 + Int(next() % 8) }  // up to 2047: 2-byte lengths
        return (0..<length).map { _ in next() }
    }

    /// Valid UTF-8 of `scalars` characters, of 1 to 4 bytes each, boundaries included.
    private mutating func text(scalars: Int) -> [UInt8] {
        var utf8: [UInt8] = []
        for _ in 0..<scalars {
            let selector = next()
            let value: UInt32
            if selector < 0xC0 {
                value = UInt32(selector & 0x7F)
            } else {
                let x = UInt32(next()) << 8 | UInt32(next())
                switch selector & 0x07 {
                case 0: value = 0x80 + x % 0x780
                case 1: value = 0x800 + x % (0xD800 - 0x800)
                case 2: value = 0xE000 + x % 0x2000
                case 3: value = 0x10000 + (x << 4 | UInt32(selector >> 4)) % 0x10_0000
                default:
                    let boundaries: [UInt32] = [
                        0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000,
                        0xFFFD, 0xFFFF, 0x10000, 0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF,
                    ]
                    value = boundaries[Int(x % 16)]
                }
            }
            let scalar = Unicode.Scalar(value) ?? "?"
            UTF8.encode(scalar) { utf8.append($0) }
        }
        return utf8
    }

    private mutating func appendFrame(opcode: UInt8, fin: Bool, payload: ArraySlice<UInt8>) {
        bytes.append((fin ? 0x80 : 0) | opcode)
        let maskBit: UInt8 = masked ? 0x80 : 0
        let length = payload.count
        if length <= 125 {
            bytes.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            bytes += [maskBit | 126, UInt8(length >> 8), UInt8(length & 0xFF)]
        } else {
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(length) >> (8 * UInt64($0))) }
        }
        guard masked else {
            bytes += payload
            return
        }
        let key = [next(), next(), next(), next()]
        bytes += key
        for (index, byte) in payload.enumerated() {
            bytes.append(byte ^ key[index % 4])
        }
    }
}
