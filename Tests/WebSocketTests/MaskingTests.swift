import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct MaskingTests {
    /// The obvious byte loop, as the reference.
    static func naiveMask(_ bytes: [UInt8], key: UInt32, offset: Int) -> [UInt8] {
        let keyBytes = withUnsafeBytes(of: key.littleEndian) { Array($0) }
        return bytes.enumerated().map { index, byte in byte ^ keyBytes[(offset + index) % 4] }
    }

    static let keys: [UInt32] = [0, 0xFFFF_FFFF, 0x3D21_FA37, 0x0102_0304, testMaskKey]

    @Test func unmaskCheckingASCIIUnmasksAndTellsWhetherEveryByteIsASCII() {
        var generator = SplitMix64(seed: 2)
        for key in Self.keys {
            for length in 0...80 {
                // ASCII text masked, then one byte set to a non-ASCII value at every position.
                let ascii = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next() % 0x80) }
                var cases: [[UInt8]] = [ascii]
                for position in 0..<length {
                    var text = ascii
                    text[position] = 0x80 | UInt8(truncatingIfNeeded: generator.next())
                    cases.append(text)
                }
                for text in cases {
                    var frame = Self.naiveMask(text, key: key, offset: 0)
                    let isASCII = frame.withUnsafeMutableBytes { Masking.unmaskCheckingASCII($0, key: key) }
                    #expect(frame == text, "length \(length)")
                    #expect(isASCII == text.allSatisfy { $0 < 0x80 }, "length \(length)")
                }
            }
        }
    }

    @Test func unmaskMatchesTheByteLoopForEveryLengthOffsetAndAlignment() {
        var generator = SplitMix64(seed: 1)
        for key in Self.keys {
            for length in 0...100 {
                let payload = randomBytes(length, using: &generator)
                for offset in 0...7 {
                    let expected = Self.naiveMask(payload, key: key, offset: offset)
                    for misalignment in 0...7 {
                        var storage = [UInt8](repeating: 0xEE, count: misalignment + length + 8)
                        storage.replaceSubrange(misalignment..<misalignment + length, with: payload)
                        storage.withUnsafeMutableBytes { all in
                            let region = UnsafeMutableRawBufferPointer(rebasing: all[misalignment..<misalignment + length])
                            Masking.unmask(region, key: key, offset: offset)
                        }
                        #expect(Array(storage[misalignment..<misalignment + length]) == expected)
                        // Nothing outside the region is touched.
                        #expect(storage[..<misalignment].allSatisfy { $0 == 0xEE })
                        #expect(storage[(misalignment + length)...].allSatisfy { $0 == 0xEE })
                    }
                }
            }
        }
    }

    @Test func unmaskingInPiecesWithOffsetsEqualsUnmaskingAtOnce() {
        var generator = SplitMix64(seed: 2)
        let payload = randomBytes(300, using: &generator)
        let expected = Self.naiveMask(payload, key: testMaskKey, offset: 0)
        for firstCut in [0, 1, 2, 3, 5, 8, 13, 33, 64, 150, 299, 300] {
            for secondCut in [firstCut, firstCut + 1, min(firstCut + 7, 300), 300] where secondCut <= 300 {
                var bytes = payload
                bytes.withUnsafeMutableBytes { all in
                    for range in [0..<firstCut, firstCut..<secondCut, secondCut..<300] {
                        Masking.unmask(UnsafeMutableRawBufferPointer(rebasing: all[range]), key: testMaskKey, offset: range.lowerBound)
                    }
                }
                #expect(bytes == expected)
            }
        }
    }

    @Test func maskingWhileCopyingMatchesTheByteLoop() {
        var generator = SplitMix64(seed: 3)
        for key in Self.keys {
            for length in 0...100 {
                let payload = randomBytes(length, using: &generator)
                for misalignment in 0...3 {
                    var destination = [UInt8](repeating: 0, count: length + misalignment)
                    payload.withUnsafeBytes { source in
                        destination.withUnsafeMutableBytes { output in
                            Masking.mask(
                                from: source.baseAddress ?? UnsafeRawPointer(output.baseAddress!),
                                to: output.baseAddress! + misalignment, count: length, key: key)
                        }
                    }
                    #expect(Array(destination[misalignment...]) == Self.naiveMask(payload, key: key, offset: 0))
                }
            }
        }
    }

    @Test func theRFCExampleUnmasksToHello() {
        // RFC 6455 §5.7: "Hello" masked with the key 37 fa 21 3d.
        var payload: [UInt8] = [0x7F, 0x9F, 0x4D, 0x51, 0x58]
        let key = [UInt8]([0x37, 0xFA, 0x21, 0x3D]).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        payload.withUnsafeMutableBytes { Masking.unmask($0, key: key, offset: 0) }
        #expect(payload == Array("Hello".utf8))
    }

    @Test func anEmptyBufferIsLeftAlone() {
        Masking.unmask(UnsafeMutableRawBufferPointer(start: nil, count: 0), key: testMaskKey, offset: 3)
    }
}
