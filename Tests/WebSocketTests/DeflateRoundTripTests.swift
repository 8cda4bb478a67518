import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct DeflateRoundTripTests {
    static let sizes = [0, 1, 127, 128, 16 * 1024, 1 << 20]

    /// Three messages through one pair: with context takeover the later ones refer back
    /// to the earlier ones, without it each must stand alone.
    @Test(arguments: 9...15, [true, false])
    func everySizeAndPayloadRoundTrips(windowBits: Int, contextTakeover: Bool) throws {
        for payload in [DeflatePayloads.compressible, DeflatePayloads.random] {
            let deflater = try #require(Deflater(windowBits: windowBits, contextTakeover: contextTakeover))
            let inflater = try #require(Inflater(windowBits: windowBits, contextTakeover: contextTakeover))
            for size in Self.sizes {
                let message = Array(payload.prefix(size))
                for _ in 0..<(size >= 1 << 20 ? 1 : 3) {
                    let compressed = deflate(message, with: deflater)
                    #expect(compressed.count <= deflater.maximumCompressedCount(for: size))
                    let (status, bytes) = inflate(compressed, with: inflater)
                    #expect(status == .ok, "size \(size)")
                    let same = bytes == message
                    #expect(same, "size \(size)")
                }
            }
        }
    }

    @Test func contextTakeoverMakesARepeatedMessageSmaller() throws {
        let message = Array(DeflatePayloads.random.prefix(1000))
        let keeping = try #require(Deflater(windowBits: 15, contextTakeover: true))
        let forgetting = try #require(Deflater(windowBits: 15, contextTakeover: false))
        _ = deflate(message, with: keeping)
        _ = deflate(message, with: forgetting)
        #expect(deflate(message, with: keeping).count < 20)
        #expect(deflate(message, with: forgetting).count > 1000)
    }

    /// zlib compresses a requested 256-byte window with 512 bytes, whose matches reach at
    /// most 250 bytes back: a peer that inflates with 256 bytes must decode all of it.
    @Test func windowEightOutputInflatesWithAWindowOfEight() throws {
        let deflater = try #require(Deflater(windowBits: 8, contextTakeover: true))
        let inflater = try #require(Inflater(windowBits: 8, contextTakeover: true))
        var generator = SplitMix64(seed: 8)
        for _ in 0..<20 {
            // Repeats at distances from 200 to 511, around both window sizes.
            let block = randomBytes(200 + Int(generator.next() % 312), using: &generator)
            let message = Array((block + block + block).prefix(1500))
            let (status, bytes) = inflate(deflate(message, with: deflater), with: inflater)
            #expect(status == .ok)
            let same = bytes == message
            #expect(same)
        }
    }

    /// zlib checks distances against the window only for history kept between calls (a
    /// reference into the output of the same call is decoded): a message that refers
    /// beyond a narrower window into the previous message is corrupt.
    @Test func aNarrowerInflaterRejectsAReferenceBeyondItsWindow() throws {
        let block = Array(DeflatePayloads.random.prefix(3000))
        let deflater = try #require(Deflater(windowBits: 15, contextTakeover: true))
        let inflater = try #require(Inflater(windowBits: 9, contextTakeover: true))
        #expect(inflate(deflate(block, with: deflater), with: inflater).status == .ok)
        #expect(inflate(deflate(block, with: deflater), with: inflater).status == .corrupt)
    }

    @Test func aMessageSplitAtEveryByteInflates() throws {
        let message = Array("Hello, Hello, permessage-deflate! Hello again.".utf8)
        let deflater = try #require(Deflater(windowBits: 15, contextTakeover: false))
        let compressed = deflate(message, with: deflater)
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: false))
        for cut in 0...compressed.count {
            let (status, bytes) = inflate(chunks: [Array(compressed[..<cut]), Array(compressed[cut...])], with: inflater, limit: 1000)
            #expect(status == .ok && bytes == message, "cut at \(cut)")
        }
        let (status, bytes) = inflate(chunks: compressed.map { [$0] }, with: inflater, limit: 1000)
        #expect(status == .ok && bytes == message)
    }

    @Test func anInflaterIsReusedAcrossPeersWithoutContextTakeover() throws {
        let inflater = try #require(Inflater(windowBits: 15, contextTakeover: false))
        for windowBits in 9...15 {
            let deflater = try #require(Deflater(windowBits: windowBits, contextTakeover: false))
            let message = Array(DeflatePayloads.compressible.prefix(5000 + windowBits))
            #expect(inflate(deflate(message, with: deflater), with: inflater).bytes == message)
        }
    }
}
