import Testing

@testable import HTTP

@Suite struct HTTPBodyFramingTests {
    static func framing(_ fields: [(String, String)], version: HTTPVersion = .http1_1) -> Result<HTTPBodyFraming, HTTPBodyFraming.Refusal> {
        let head = HTTPRequestHead(method: "POST", target: "/", version: version, headers: fields.map { (name: $0.0, value: $0.1) })
        return Result { () throws(HTTPBodyFraming.Refusal) in try HTTPBodyFraming(head) }
    }

    @Test(arguments: [
        ([], HTTPBodyFraming.none),
        ([("Content-Length", "0")], .none),
        ([("Content-Length", "5")], .length(5)),
        ([("content-length", "007")], .length(7)),
        ([("Content-Length", "5"), ("Content-Length", "5")], .length(5)),
        ([("Content-Length", "5, 5")], .length(5)),
        ([("Transfer-Encoding", "chunked")], .chunked),
        ([("Transfer-Encoding", "Chunked")], .chunked),
    ] as [([(String, String)], HTTPBodyFraming)])
    func acceptedFramings(fields: [(String, String)], expected: HTTPBodyFraming) {
        #expect(Self.framing(fields) == .success(expected))
    }

    @Test(arguments: [
        // Several different lengths, or one that is not plain digits.
        ([("Content-Length", "5"), ("Content-Length", "6")], 400),
        ([("Content-Length", "5, 6")], 400),
        ([("Content-Length", "")], 400),
        ([("Content-Length", "+5")], 400),
        ([("Content-Length", "-1")], 400),
        ([("Content-Length", "0x10")], 400),
        ([("Content-Length", "5 5")], 400),
        ([("Content-Length", "5,")], 400),
        ([("Content-Length", "99999999999999999999999")], 413),
        // Both framings: the smuggling case (RFC 9112 §6.3 rule 3), in either order and case.
        ([("Content-Length", "5"), ("Transfer-Encoding", "chunked")], 400),
        ([("transfer-encoding", "chunked"), ("content-length", "0")], 400),
        // Any coding but exactly `chunked` is not implemented.
        ([("Transfer-Encoding", "gzip")], 501),
        ([("Transfer-Encoding", "gzip, chunked")], 501),
        ([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], 501),
        ([("Transfer-Encoding", "chunkedx")], 501),
        ([("Transfer-Encoding", "")], 400),
    ] as [([(String, String)], Int)])
    func refusedFramings(fields: [(String, String)], status: Int) {
        #expect(Self.framing(fields) == .failure(HTTPBodyFraming.Refusal(HTTPStatus(code: status))))
    }

    @Test func transferEncodingInHTTP10IsRefused() {
        #expect(Self.framing([("Transfer-Encoding", "chunked")], version: .http1_0) == .failure(HTTPBodyFraming.Refusal(.badRequest)))
        #expect(Self.framing([("Content-Length", "3")], version: .http1_0) == .success(.length(3)))
    }
}
