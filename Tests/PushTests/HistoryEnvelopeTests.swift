import Testing

@testable import Push

/// A kept message carries its `/ws` envelope, encoded once, with the message inside it: what
/// recovery sends must be byte for byte what a fresh encoding gives.
@Suite struct HistoryEnvelopeTests {
    static func store() -> HistoryStore {
        HistoryStore(maxBytes: 1 << 20, limits: { $0.hasPrefix("kept.") ? HistoryLimits(maxCount: 10) : HistoryLimits() }) { "E" }
    }

    @Test(arguments: [#"{"a":[1,2,{"b":null}],"c":"\u00e9"}"#, "42", #""text""#, "true"])
    func aJSONTextIsKeptAsItsEnvelope(_ text: String) throws {
        let store = Self.store()
        let payload = Array(text.utf8)
        _ = store.append("kept.a", payload: [0x30], isText: true, now: 0)
        let entry = store.append("kept.a", payload: payload, isText: true, now: 0)
        let expected = Envelope.textMessage(topic: "kept.a", offset: 2, payload: payload)
        #expect(entry.envelope == expected.bytes)
        #expect(String(decoding: try #require(entry.envelope), as: UTF8.self) == #"{"op":"message","topic":"kept.a","offset":2,"data":\#(text)}"#)
        #expect(entry.payload == payload)
        #expect(entry.withPayload { Array($0) } == payload)
        let message = Envelope.message(topic: "kept.a", entry: entry)
        #expect(message.bytes == expected.bytes && message.kind == .text)
        // Counted in the budget with its envelope, which holds the message once.
        let first = Envelope.textMessage(topic: "kept.a", offset: 1, payload: [0x30]).bytes
        #expect(store.bytes == first.count + expected.bytes.count + 2 * HistoryEntry.overhead)
    }

    @Test func aBinaryMessageIsKeptAsItsEnvelope() throws {
        let store = Self.store()
        let payload: [UInt8] = [0, 1, 2, 255, 0x7B]
        let entry = store.append("kept.b", payload: payload, isText: false, now: 0)
        let expected = Envelope.binaryMessage(topic: "kept.b", offset: 1, payload: payload)
        #expect(entry.envelope == expected.bytes)
        #expect(entry.payload == payload)
        let message = Envelope.message(topic: "kept.b", entry: entry)
        #expect(message.bytes == expected.bytes && message.kind == .binary)
        #expect(store.bytes == expected.bytes.count + HistoryEntry.overhead)
    }

    /// A text that is not JSON goes in the envelope as a JSON string: kept there when the
    /// string holds it verbatim.
    @Test func aTextThatIsNotJSONIsKeptAsItsEnvelopeWhenItNeedsNoEscape() throws {
        let store = Self.store()
        let payload = Array("0:hello wörld".utf8)
        let entry = store.append("kept.c", payload: payload, isText: true, now: 0)
        let expected = Envelope.textMessage(topic: "kept.c", offset: 1, payload: payload)
        #expect(String(decoding: try #require(entry.envelope), as: UTF8.self) == #"{"op":"message","topic":"kept.c","offset":1,"data":"0:hello wörld"}"#)
        #expect(entry.envelope == expected.bytes)
        #expect(entry.payload == payload)
        #expect(Envelope.message(topic: "kept.c", entry: entry).bytes == expected.bytes)
        // Allocated to size: kept for long, spare capacity would be memory per message.
        let envelope = try #require(entry.envelope)
        #expect(envelope.capacity < envelope.count + 16)
        #expect(store.bytes == expected.bytes.count + HistoryEntry.overhead)
    }

    /// Escaping changes a text with quotes: it is kept alone, and encoded when it is sent,
    /// exactly as before.
    @Test(arguments: [#"hello "you""#, "a\\b", "line\n", "tab\t", "\u{01}"])
    func aTextThatEscapingChangesIsKeptAlone(_ text: String) {
        let store = Self.store()
        let payload = Array(text.utf8)
        let entry = store.append("kept.c", payload: payload, isText: true, now: 0)
        #expect(entry.envelope == nil)
        #expect(entry.payload == payload)
        #expect(store.bytes == payload.count + HistoryEntry.overhead)
        #expect(Envelope.message(topic: "kept.c", entry: entry).bytes == Envelope.textMessage(topic: "kept.c", offset: 1, payload: payload).bytes)
    }

    /// Not valid UTF-8 (which a text should be): decoding replaces the three bytes with a
    /// replacement character of three bytes, so the envelope's string is as long as the
    /// message but not the message. The message is kept as it is.
    @Test func aTextThatDecodingWouldChangeIsKeptAlone() {
        let payload: [UInt8] = [0x61, 0xF0, 0x9F, 0x98, 0x62]
        let entry = Self.store().append("kept.c", payload: payload, isText: true, now: 0)
        #expect(entry.envelope == nil)
        #expect(entry.payload == payload)
    }

    @Test func aTextWithQuotesIsEscapedAsBefore() {
        let entry = Self.store().append("kept.c", payload: Array(#"hello "you""#.utf8), isText: true, now: 0)
        #expect(String(decoding: Envelope.message(topic: "kept.c", entry: entry).bytes, as: UTF8.self)
                == #"{"op":"message","topic":"kept.c","offset":1,"data":"hello \"you\""}"#)
    }

    /// A topic without history encodes nothing when it publishes (the live fan-out encodes
    /// only when there are subscribers).
    @Test func aMessageThatIsNotKeptHasNoEnvelope() {
        let entry = Self.store().append("other", payload: Array("1".utf8), isText: true, now: 0)
        #expect(entry.envelope == nil)
        #expect(entry.payload == Array("1".utf8))
    }

    @Test func entriesAreEqualWithOrWithoutTheirEnvelope() {
        let kept = Self.store().append("kept.d", payload: Array("[1]".utf8), isText: true, now: 5)
        #expect(kept.envelope != nil)
        #expect(kept == HistoryEntry(offset: 1, publishedAt: 5, isText: true, payload: Array("[1]".utf8)))
        #expect(kept != HistoryEntry(offset: 1, publishedAt: 5, isText: true, payload: Array("[2]".utf8)))
    }
}
