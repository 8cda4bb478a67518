import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct InflaterTests {
    /// RFC 7692 §7.2.3.1: "Hello" in one DEFLATE block, the sync-flush tail stripped.
    @Test func theRFCHelloExampleInflates() throws {
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: true))
        let (status, bytes) = inflate([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], with: inflater)
        #expect(status == .ok)
        #expect(bytes == Array("Hello".utf8))
    }

    /// §7.2.3.2: the second "Hello" refers back to the first, through the kept history.
    @Test func theRFCSharedWindowExampleInflates() throws {
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: true))
        #expect(inflate([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], with: inflater).bytes == Array("Hello".utf8))
        #expect(inflate([0xF2, 0x00, 0x11, 0x00, 0x00], with: inflater).bytes == Array("Hello".utf8))
    }

    /// §7.2.3.3 and §7.2.3.4: a stored block, and a final block followed by more bytes.
    @Test func storedAndFinalBlocksInflate() throws {
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: true))
        let stored: [UInt8] = [0x00, 0x05, 0x00, 0xFA, 0xFF] + Array("Hello".utf8) + [0x00]
        #expect(inflate(stored, with: inflater).bytes == Array("Hello".utf8))
        let final: [UInt8] = [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00]
        #expect(inflate(final, with: inflater) == (.ok, Array("Hello".utf8)))
        // The history survives the final block: a back reference to it still decodes.
        #expect(inflate([0xF2, 0x00, 0x11, 0x00, 0x00], with: inflater).bytes == Array("Hello".utf8))
    }

    @Test func anEmptyMessageInflatesToNothing() throws {
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: false))
        #expect(inflate([], with: inflater) == (.ok, []))
        #expect(inflate([0x00], with: inflater) == (.ok, []))
    }

    /// 10 MiB of zeros compress to about 10 KiB; against a 1 MiB limit the inflater stops
    /// at the limit, however the bomb is fed.
    @Test(arguments: [1 << 30, 1 << 12, 7])
    func aZipBombStopsAtTheLimit(chunkSize: Int) throws {
        let deflater = try #require(Deflater(windowBits: 15, level: 9, contextTakeover: false))
        let bomb = deflate([UInt8](repeating: 0, count: 10 << 20), with: deflater)
        #expect(bomb.count < 12 * 1024)
        let chunks = stride(from: 0, to: bomb.count, by: chunkSize).map { Array(bomb[$0..<min($0 + chunkSize, bomb.count)]) }
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: false))
        let (status, bytes) = inflate(chunks: chunks, with: inflater, limit: 1 << 20)
        #expect(status == .tooBig)
        #expect(bytes.count == 1 << 20)
        #expect(bytes.capacity <= 2 << 20)
        #expect(inflater.producedCount == 1 << 20)
    }

    @Test func aMessageOfExactlyTheLimitFits() throws {
        let message = Array(DeflatePayloads.compressible.prefix(1000))
        let deflater = try #require(Deflater(windowBits: 15, contextTakeover: false))
        let compressed = deflate(message, with: deflater)
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: false))
        #expect(inflate(compressed, with: inflater, limit: 1000) == (.ok, message))
        #expect(inflate(compressed, with: inflater, limit: 999).status == .tooBig)
        // A failure is not carried into the next message.
        #expect(inflate(compressed, with: inflater, limit: 1000) == (.ok, message))
    }

    @Test(arguments: [
        [0xFF], [0x07, 0x00], [0xF2, 0x00, 0x11, 0x00, 0x00], [0x02, 0xFF, 0xFF, 0xFF],
        [0x00, 0x05, 0x00, 0x00, 0x00] + Array("Hello".utf8),
    ] as [[UInt8]])
    func corruptDataIsReported(bytes: [UInt8]) throws {
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: true))
        #expect(inflate(bytes, with: inflater).status == .corrupt)
        // The next message starts clean.
        #expect(inflate([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], with: inflater).bytes == Array("Hello".utf8))
    }

    @Test func aFailedMessageKeepsFailing() throws {
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: false))
        var output = InflatedBytes()
        inflater.startMessage(limit: 100)
        #expect([UInt8]([0xFF]).withUnsafeBytes { inflater.inflate($0, into: &output) } == .corrupt)
        #expect([UInt8]([0x00]).withUnsafeBytes { inflater.inflate($0, into: &output) } == .corrupt)
        #expect(inflater.finishMessage(into: &output) == .corrupt)
    }
}
