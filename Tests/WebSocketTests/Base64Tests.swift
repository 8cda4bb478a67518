import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func theRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func everyByteValueRoundTrips() {
        var generator = SplitMix64(seed: 5)
        for length in 0...40 {
            let bytes = randomBytes(length, using: &generator)
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        let all = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(all)) == all)
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }

    @Test(arguments: [
        "Zg", "Zg=", "Z===", "====", "Zm9v\n", " Zm9v", "Zm9v YmFy", "Zm=v", "Zg==Zg==", "Zm9-", "Zm9_", "Zm9vYmFy=",
        "Zé==",
    ])
    func garbageIsRejected(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func unusedLowBitsAreTolerated() {
        #expect(Base64.decode("Zh==") == [0x66])
    }
}
