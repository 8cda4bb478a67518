import Testing

import Push

@Suite struct TopicPatternTests {
    @Test func parsesTheThreeForms() {
        #expect(TopicPattern("*") == .all)
        #expect(TopicPattern("news.*") == .prefix("news."))
        #expect(TopicPattern("a.b.*") == .prefix("a.b."))
        #expect(TopicPattern("news") == .exact("news"))
        #expect(TopicPattern("chat.lobby") == .exact("chat.lobby"))
        #expect(TopicPattern("é") == .exact("é"))
    }

    @Test(arguments: ["", "news*", "*.news", "news.*.*", "a*b", ".*", "**", "news.**", "a\u{0}b", "a\nb", "a\u{7F}"])
    func rejects(text: String) {
        #expect(TopicPattern(text) == nil, "\(text)")
    }

    @Test func rejectsOverlongText() {
        #expect(TopicPattern(String(repeating: "a", count: TopicPattern.maximumLength)) != nil)
        #expect(TopicPattern(String(repeating: "a", count: TopicPattern.maximumLength + 1)) == nil)
    }

    @Test func matching() throws {
        let news = try #require(TopicPattern("news.*"))
        #expect(news.matches("news.sport") && news.matches("news.sport.live"))
        #expect(!news.matches("news") && !news.matches("newsroom") && !news.matches("old.news.sport"))
        let exact = try #require(TopicPattern("chat"))
        #expect(exact.matches("chat") && !exact.matches("chat.x") && !exact.matches("cha"))
        #expect(TopicPattern.all.matches("anything") && TopicPattern.all.matches(""))
    }

    /// "é" precomposed and decomposed are equal Swift strings, but not the same topic name.
    @Test func matchesBytesNotCanonicalEquivalence() {
        #expect(!TopicPattern.exact("\u{E9}").matches("e\u{301}"))
        #expect(!TopicPattern.prefix("\u{E9}.").matches("e\u{301}.x"))
    }

    @Test func descriptionIsTheText() {
        for text in ["*", "news.*", "chat"] { #expect(TopicPattern(text)?.description == text) }
    }
}
