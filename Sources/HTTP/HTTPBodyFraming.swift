/// How the body of a request is delimited, decided from its head (RFC 9112 §6.3).
///
/// Strict, because a server and a proxy in front of it that disagree on where a body
/// ends let a client smuggle a second request inside the first one's body.
public enum HTTPBodyFraming: Equatable, Sendable {
    /// No `Content-Length` and no `Transfer-Encoding`: a request without a body.
    case none
    /// `Content-Length`: exactly this many bytes.
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked

    /// Why a head's framing is refused, with the status to answer.
    public struct Refusal: Error, Equatable, Sendable {
        /// 400, 413 or 501.
        public var status: HTTPStatus

        /// A refusal answered with `status`.
        public init(_ status: HTTPStatus) {
            self.status = status
        }
    }

    /// The framing `head` announces, or the refusal, with its status:
    /// - `Content-Length` and `Transfer-Encoding` together → 400 (§6.3 rule 3: a smuggling attempt);
    /// - `Transfer-Encoding` in an HTTP/1.0 request → 400 (§6.1: 1.0 does not know it, so an
    ///   intermediary may have framed the message differently);
    /// - `Transfer-Encoding` other than exactly `chunked` → 501 (no other coding is implemented);
    /// - `Content-Length` that is not digits, or several different values → 400 (§6.3 rule 5);
    ///   repeated identical values are one value (RFC 9110 §8.6);
    /// - a length too large to represent → 413.
    public init(_ head: HTTPRequestHead) throws(Refusal) {
        // The common case first, without building lists: one Content-Length of plain digits
        // and no Transfer-Encoding. Anything else takes the full path below.
        var length: String?
        var lengthFields = 0
        var hasCoding = false
        for field in head.headers {
            if HTTPHeaderLookup.equalsIgnoringASCIICase(field.name, "Content-Length") {
                lengthFields += 1
                length = field.value
            } else if HTTPHeaderLookup.equalsIgnoringASCIICase(field.name, "Transfer-Encoding") {
                hasCoding = true
            }
        }
        if !hasCoding, lengthFields <= 1 {
            guard let length else {
                self = .none
                return
            }
            if case .number(let count) = Self.decimal(length.utf8[...]) {
                self = count == 0 ? .none : .length(count)
                return
            }
        }
        let lengths = head.values("Content-Length")
        let codings = head.values("Transfer-Encoding")
        switch (lengths.isEmpty, codings.isEmpty) {
        case (true, true):
            self = .none
        case (false, false):
            throw Refusal(.badRequest)
        case (true, false):
            self = try Self.transferCoding(codings, version: head.version)
        case (false, true):
            self = try Self.contentLength(lengths)
        }
    }

    private static func transferCoding(_ values: [String], version: HTTPVersion) throws(Refusal) -> HTTPBodyFraming {
        guard version >= .http1_1 else { throw Refusal(.badRequest) }
        let codings = HTTPHeaderLookup.listElements("Transfer-Encoding", in: values.map { ("Transfer-Encoding", $0) })
        guard codings.count == 1, let coding = codings.first else {
            // An empty value frames nothing a recipient can agree on; a list stacks codings.
            throw Refusal(codings.isEmpty ? .badRequest : .notImplemented)
        }
        guard HTTPHeaderLookup.equalsIgnoringASCIICase(coding, "chunked") else { throw Refusal(.notImplemented) }
        return .chunked
    }

    private static func contentLength(_ values: [String]) throws(Refusal) -> HTTPBodyFraming {
        var length: Int?
        // A list (`5, 5`) as well as repeated fields: every element must be the same number.
        for value in values {
            for element in value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                switch decimal(HTTPHeadSyntax.trimmingWhitespace(element)) {
                case .notDigits:
                    throw Refusal(.badRequest)
                case .overflow:
                    throw Refusal(.contentTooLarge)
                case .number(let number):
                    if let length, length != number { throw Refusal(.badRequest) }
                    length = number
                }
            }
        }
        guard let length else { throw Refusal(.badRequest) }
        return length == 0 ? .none : .length(length)
    }

    private enum Decimal {
        case number(Int)
        case notDigits
        case overflow
    }

    /// `1*DIGIT` as a number. A sign, a space or a hex digit is not a length: lenient
    /// parsers that accept them are what smuggling attacks use.
    private static func decimal(_ digits: Substring.UTF8View) -> Decimal {
        guard !digits.isEmpty, digits.allSatisfy(HTTPHeadSyntax.isDigit) else { return .notDigits }
        var number = 0
        for digit in digits {
            let (times10, overflowA) = number.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times10.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
            if overflowA || overflowB { return .overflow }
            number = sum
        }
        return .number(number)
    }
}
