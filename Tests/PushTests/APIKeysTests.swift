import Testing

@testable import Push

@Suite struct APIKeysTests {
    @Test func acceptsExactlyTheConfiguredKeys() {
        let keys = APIKeys(["first-key-0123456789", "second", "a-much-longer-third-key-0123456789-abcdef"])
        #expect(keys.accepts("first-key-0123456789"))
        #expect(keys.accepts("second"))
        #expect(keys.accepts("a-much-longer-third-key-0123456789-abcdef"))
        // A prefix, an extension, one changed byte, a key padded with what the table pads
        // with, another case, nothing: refused.
        for wrong in ["first-key-012345678", "first-key-01234567890", "first-key-0123456788", "second\u{0}", "SECOND", "", "secon",
                      "a-much-longer-third-key-0123456789-abcdef-and-more-than-the-widest-key"] {
            #expect(!keys.accepts(wrong), "\(wrong)")
        }
    }

    @Test func replacingTheKeysRevokesTheOldOnes() {
        let keys = APIKeys(["old-key"])
        #expect(!keys.isEmpty)
        keys.replace(with: ["new-key-longer-than-before"])
        #expect(!keys.accepts("old-key"))
        #expect(keys.accepts("new-key-longer-than-before"))
        keys.replace(with: [])
        #expect(keys.isEmpty)
        #expect(!keys.accepts("new-key-longer-than-before"))
        #expect(!keys.accepts(""))
    }

    @Test func contentTypesChooseTextOrBinary() {
        for text in ["text/plain", "Text/Plain; charset=utf-8", " application/json ", "APPLICATION/JSON;charset=utf-8", "text/"] {
            #expect(PublishAPI.kind(of: text) == .text, "\(text)")
        }
        for binary in [nil, "", "application/octet-stream", "application/jsonx", "application/json-seq", "tex", "image/png"] as [String?] {
            #expect(PublishAPI.kind(of: binary) == .binary, "\(String(describing: binary))")
        }
    }
}
