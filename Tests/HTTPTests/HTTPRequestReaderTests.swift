import Testing

@testable import HTTP
import TestSupport

@Suite struct HTTPRequestReaderTests {
    /// A request in the order it came: method, path and body as text; or a failure status.
    enum Event: Equatable {
        case request(String, String, String)
        case failed(Int)
    }

    /// Reads requests one after another from `chunks`, as a connection would.
    static func read(_ chunks: [[UInt8]], maxHeaderBytes: Int = 1024, maxBodyBytes: Int = 64) -> [Event] {
        var reader = HTTPRequestReader(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
        var events: [Event] = []
        for chunk in chunks {
            var offset = 0
            repeat {
                let result = chunk[offset...].withUnsafeBytes { reader.read($0) }
                switch result {
                case .needMore:
                    offset = chunk.count
                case .complete(let request, let consumed):
                    events.append(.request(request.head.method, request.head.path, String(decoding: request.body, as: UTF8.self)))
                    offset += consumed
                case .failed(let status):
                    events.append(.failed(status.code))
                    return events
                }
            } while offset < chunk.count
        }
        return events
    }

    static let pipelined = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        + "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        + "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        + "HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n"

    static let expected: [Event] = [
        .request("GET", "/a", ""), .request("POST", "/b", "hello"), .request("POST", "/c", "abc"), .request("HEAD", "/d", ""),
    ]

    @Test func pipelinedRequestsComeOutInOrder() {
        #expect(Self.read([Array(Self.pipelined.utf8)]) == Self.expected)
    }

    @Test func everySplitPointGivesTheSameRequests() {
        let bytes = Array(Self.pipelined.utf8)
        for split in 0...bytes.count {
            #expect(Self.read([Array(bytes[..<split]), Array(bytes[split...])]) == Self.expected, "split at \(split)")
        }
        #expect(Self.read(bytes.map { [$0] }) == Self.expected, "byte by byte")
    }

    @Test func aFailedRequestEndsTheStream() {
        let smuggled = "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"
        #expect(Self.read([Array(smuggled.utf8)]) == [.failed(400)])
        let tooLarge = "GET /a HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n"
        #expect(Self.read([Array(tooLarge.utf8)]) == [.request("GET", "/a", ""), .failed(413)])
        var reader = HTTPRequestReader()
        #expect(feed(&reader, "BAD\r\n\r\n").failedStatus == 400)
        #expect(feed(&reader, Self.pipelined).failedStatus == 400)
    }

    @Test func bodyAtTheLimitPassesAndOneMoreByteIs413() {
        let atLimit = "POST / HTTP/1.1\r\nContent-Length: 64\r\n\r\n" + String(repeating: "b", count: 64)
        #expect(Self.read([Array(atLimit.utf8)]) == [.request("POST", "/", String(repeating: "b", count: 64))])
        #expect(Self.read([Array("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n".utf8)]) == [.failed(413)])
    }

    @Test func boundaryAndBufferedBytesFollowTheStream() {
        var reader = HTTPRequestReader(maxBodyBytes: 64)
        #expect(reader.isAtRequestBoundary)
        let head = Array("POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nab".utf8)
        #expect(feed(&reader, head).isNeedMore)
        #expect(!reader.isAtRequestBoundary)
        #expect(reader.bufferedByteCount == 2)
        let first = reader.takeContinueRequest(), second = reader.takeContinueRequest()
        #expect(first && !second, "asked for once")
        let rest = Array("cdGE".utf8)
        #expect(feed(&reader, rest).isComplete)
        #expect(reader.isAtRequestBoundary)
        #expect(feed(&reader, "GE").isNeedMore)
        #expect(!reader.isAtRequestBoundary)
    }

    @Test func noContinueForABodyThatArrivedWithItsHead() {
        var reader = HTTPRequestReader()
        let request = Array("POST / HTTP/1.1\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\nx".utf8)
        #expect(feed(&reader, request).isComplete)
        let continueRequested = reader.takeContinueRequest()
        #expect(!continueRequested)
    }
}

func feed(_ reader: inout HTTPRequestReader, _ bytes: [UInt8]) -> HTTPParseResult<HTTPRequest> {
    bytes.withUnsafeBytes { reader.read($0) }
}

func feed(_ reader: inout HTTPRequestReader, _ text: String) -> HTTPParseResult<HTTPRequest> {
    feed(&reader, Array(text.utf8))
}
