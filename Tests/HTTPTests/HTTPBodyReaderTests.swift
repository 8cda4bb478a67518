import Testing

@testable import HTTP

@Suite struct HTTPBodyReaderTests {
    /// What reading a body gave: its bytes and where it ended, or a failure status.
    enum Outcome: Equatable {
        case body([UInt8], end: Int)
        case failed(Int)
        case incomplete
    }

    /// Feeds `chunks` in order, up to the first result that is not `.needMore`.
    static func read(_ chunks: [[UInt8]], framing: HTTPBodyFraming = .chunked, maxBodyBytes: Int = 1024, maxTrailerBytes: Int = 64) -> Outcome {
        var reader = HTTPBodyReader(framing: framing, maxBodyBytes: maxBodyBytes, maxTrailerBytes: maxTrailerBytes)
        var offset = 0
        for chunk in chunks + [[]] {
            let progress = feed(&reader, chunk)
            switch progress {
            case .needMore:
                #expect(reader.body.count <= maxBodyBytes)
                offset += chunk.count
            case .complete(let consumed):
                return .body(reader.takeBody(), end: offset + consumed)
            case .failed(let status):
                #expect(reader.body.isEmpty, "a failed reader holds no body")
                return .failed(status.code)
            }
        }
        return .incomplete
    }

    static func read(_ text: String, framing: HTTPBodyFraming = .chunked, maxBodyBytes: Int = 1024) -> Outcome {
        read([Array(text.utf8)], framing: framing, maxBodyBytes: maxBodyBytes)
    }

    static func body(_ text: String, end: Int) -> Outcome {
        .body(Array(text.utf8), end: end)
    }

    // MARK: Content-Length

    @Test func contentLengthBodyEndsAtItsLengthAndLeavesTheRest() {
        #expect(Self.read("helloGET /", framing: .length(5)) == Self.body("hello", end: 5))
        #expect(Self.read([Array("he".utf8), Array("l".utf8), Array("lo!".utf8)], framing: .length(5)) == Self.body("hello", end: 5))
        #expect(Self.read("hell", framing: .length(5)) == .incomplete)
    }

    @Test func noBodyIsCompleteAtOnce() {
        #expect(Self.read([[]], framing: .none) == .body([], end: 0))
        #expect(Self.read("GET", framing: .none) == .body([], end: 0))
    }

    @Test func contentLengthAtTheLimitPassesAndOverItFailsBeforeAnyByte() {
        #expect(Self.read(String(repeating: "a", count: 8), framing: .length(8), maxBodyBytes: 8) == Self.body(String(repeating: "a", count: 8), end: 8))
        // 413 on the first read, even with no byte of the body yet.
        #expect(Self.read([[]], framing: .length(9), maxBodyBytes: 8) == .failed(413))
    }

    // MARK: Chunked

    static let chunked = "5\r\nhello\r\n1;name=value\r\n \r\n0\r\n\r\n"

    @Test func chunkedBodyIsDecoded() {
        #expect(Self.read(Self.chunked) == Self.body("hello ", end: Self.chunked.utf8.count))
        #expect(Self.read(Self.chunked + "GET / HTTP/1.1") == Self.body("hello ", end: Self.chunked.utf8.count))
        #expect(Self.read("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n") == Self.body("0123456789abcdefghij", end: 35))
        #expect(Self.read("0\r\n\r\n") == .body([], end: 5))
        #expect(Self.read("000\r\n\r\n") == .body([], end: 7))
    }

    @Test func everySplitPointGivesTheSameBody() {
        // With a trailer: the body ends after its empty line.
        let text = "5\r\nhello\r\n1;name=value\r\n \r\n0\r\nX-Trailer: yes\r\n\r\nNEXT"
        let whole = Array(text.utf8)
        let expected = Self.body("hello ", end: whole.count - 4)
        for first in 0...whole.count {
            #expect(Self.read([Array(whole[..<first]), Array(whole[first...])]) == expected, "split at \(first)")
            for second in first...whole.count where second - first < 4 {
                let chunks = [Array(whole[..<first]), Array(whole[first..<second]), Array(whole[second...])]
                #expect(Self.read(chunks) == expected, "split at \(first) and \(second)")
            }
        }
        #expect(Self.read(whole.map { [$0] }) == expected, "byte by byte")
    }

    @Test func chunkExtensionsAreSkipped() {
        #expect(Self.read("5;a\r\nhello\r\n0\r\n\r\n") == Self.body("hello", end: 17))
        #expect(Self.read("5 ;a=\"q s\"; b\r\nhello\r\n0;last\r\n\r\n") == Self.body("hello", end: 32))
    }

    @Test func trailersAreSkippedButBounded() {
        #expect(Self.read("0\r\nA: 1\r\nB: 2\r\n\r\n") == .body([], end: 17))
        let long = "0\r\nX: " + String(repeating: "t", count: 100) + "\r\n\r\n"
        #expect(Self.read(long) == .failed(431))
    }

    @Test(arguments: [
        "\r\n",                       // no size
        "x\r\n",                      // not hex
        "5x\r\nhello\r\n0\r\n\r\n",   // junk after the size
        "-5\r\n",                     // a sign
        "5 \r\nhello\r\n0\r\n\r\n",   // whitespace without an extension
        "5\nhello\r\n0\r\n\r\n",      // bare LF after the size
        "5\r\r\nhello",               // CR not followed by LF
        "5\r\nhelloX\r\n",            // data longer than its size
        "5\r\nhello\n0\r\n\r\n",      // bare LF after the data
        "5\r\nhello\r0\r\n\r\n",      // CR not followed by LF after the data
        "0\r\n\n",                    // bare LF ending the body
        "0\r\nA: 1\n\r\n",            // bare LF ending a trailer
        "0\r\nA: \u{1}\r\n\r\n",      // control character in a trailer
        "5;a\u{1}\r\nhello\r\n",      // control character in an extension
        "5;a\nhello\r\n",             // bare LF in an extension
    ])
    func malformedChunkedCodingIs400(_ text: String) {
        #expect(Self.read(text) == .failed(400))
    }

    @Test func chunkSizeThatOverflowsIs400EvenWithoutALimit() {
        #expect(Self.read("8000000000000000\r\n", maxBodyBytes: .max) == .failed(400))
        #expect(Self.read("10000000000000000\r\n", maxBodyBytes: .max) == .failed(400))
        #expect(Self.read("7fffffffffffffff\r\n", maxBodyBytes: .max) == .incomplete)
    }

    @Test func tooLongChunkLineIs400() {
        let line = "5;" + String(repeating: "e", count: HTTPBodyReader.maxChunkLineBytes) + "\r\nhello\r\n0\r\n\r\n"
        #expect(Self.read(line) == .failed(400))
        let zeros = String(repeating: "0", count: HTTPBodyReader.maxChunkLineBytes + 1) + "5\r\nhello\r\n0\r\n\r\n"
        #expect(Self.read(zeros) == .failed(400))
    }

    @Test func chunkedBodyAtTheLimitPassesAndOverItFailsFromTheSizeAlone() {
        let ten = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"
        #expect(Self.read(ten, maxBodyBytes: 10) == Self.body("helloworld", end: ten.utf8.count))
        // The second chunk's size takes the body past the limit: 413 before its data,
        // whether the data has arrived or not.
        #expect(Self.read("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", maxBodyBytes: 10) == .failed(413))
        #expect(Self.read("5\r\nhello\r\n6", maxBodyBytes: 10) == .failed(413))
        // A single chunk too large, known from its first digits.
        #expect(Self.read("fffff", maxBodyBytes: 10) == .failed(413))
    }

    @Test func aFinishedReaderKeepsAnswering() {
        var reader = HTTPBodyReader(framing: .chunked, maxBodyBytes: 16)
        #expect(feed(&reader, "x") == .failed(400))
        #expect(feed(&reader, "0\r\n\r\n") == .failed(400))
        var done = HTTPBodyReader(framing: .length(1), maxBodyBytes: 16)
        #expect(feed(&done, "ab") == .complete(consumed: 1))
        #expect(done.isComplete)
        #expect(feed(&done, "c") == .complete(consumed: 0))
        #expect(done.body == [UInt8(ascii: "a")])
    }
}

func feed(_ reader: inout HTTPBodyReader, _ bytes: [UInt8]) -> HTTPBodyReader.Progress {
    bytes.withUnsafeBytes { reader.read($0) }
}

func feed(_ reader: inout HTTPBodyReader, _ text: String) -> HTTPBodyReader.Progress {
    feed(&reader, Array(text.utf8))
}
