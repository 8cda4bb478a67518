import Testing

@_spi(Internals) @testable import Push

@Suite struct Base64URLTests {
    /// RFC 4648 §10 vectors, unpadded, plus the two characters base64url changes.
    static let table: [(String, String)] = [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"), ("\u{FB}\u{FF}", "w7vDvw"),
    ]

    @Test func encodesAndDecodesTheRFCVectors() {
        for (plain, encoded) in Self.table {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(Array(encoded.utf8)) == Array(plain.utf8))
        }
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64URL.decode(Array("-_-_".utf8)) == [0xFB, 0xFF, 0xBF])
    }

    @Test(arguments: [
        "Zg==", "Zm8=", "Zg=", "=",  // padding
        "+/+/", "Zm9v Yg", "Zm9v\nYg", "Zm9v.", "Zm9v\u{0}",  // characters outside the alphabet
        "Z", "Zm9vY",  // lengths no encoding has
        "Zh", "Zm9", "Zm9vYh", "Zm9vYmF",  // non-zero bits after the last byte
    ])
    func rejects(text: String) {
        #expect(Base64URL.decode(Array(text.utf8)) == nil, "\(text)")
    }

    @Test func everyByteValueRoundTrips() {
        let bytes = (0...255).map { UInt8($0) }
        for count in 0...bytes.count {
            let prefix = Array(bytes[0..<count])
            #expect(Base64URL.decode(Array(Base64URL.encode(prefix).utf8)) == prefix)
        }
    }
}
