import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct ExtensionHeaderTests {
    typealias P = ExtensionParameter

    @Test func severalExtensionsWithAndWithoutValues() {
        let elements = ExtensionHeader.parse(
            "permessage-deflate; client_max_window_bits, Foo ; bar=1;BAZ = \"q\" ,x-webkit-deflate-frame")
        #expect(elements == [
            .offer(ExtensionOffer(name: "permessage-deflate", parameters: [P(name: "client_max_window_bits")])),
            .offer(ExtensionOffer(name: "foo", parameters: [P(name: "bar", value: "1"), P(name: "baz", value: "q")])),
            .offer(ExtensionOffer(name: "x-webkit-deflate-frame")),
        ])
    }

    @Test func quotedValuesAreUnescapedAndMustBeTokens() {
        #expect(ExtensionHeader.parse("a; b=\"1\\0\"") == [.offer(ExtensionOffer(name: "a", parameters: [P(name: "b", value: "10")]))])
        #expect(ExtensionHeader.parse("a; b=\"x y\", c") == [.malformed, .offer(ExtensionOffer(name: "c"))])
        #expect(ExtensionHeader.parse("a; b=\"\"") == [.malformed])
        #expect(ExtensionHeader.parse("a; b=\"unterminated") == [.malformed])
        // A comma inside quotes does not end the element.
        #expect(ExtensionHeader.parse("a; b=\"x,y\" z, c") == [.malformed, .offer(ExtensionOffer(name: "c"))])
    }

    @Test func emptyElementsAndWhitespaceAreSkipped() {
        #expect(ExtensionHeader.parse("") == [])
        #expect(ExtensionHeader.parse(" ,\t, ") == [])
        #expect(ExtensionHeader.parse(", a ,, b ,") == [.offer(ExtensionOffer(name: "a")), .offer(ExtensionOffer(name: "b"))])
    }

    @Test(arguments: ["a;", "a; =1", "a; b=", "a b", ";a", "a; b c", "a; b=1=2", "é", "a; b=é", "a;; b"])
    func grammarBreaksAreMalformed(header: String) {
        #expect(ExtensionHeader.parse(header) == [.malformed])
    }
}
