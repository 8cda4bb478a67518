import Testing

@testable import Redis

@Suite struct RedisURLTests {
    @Test(arguments: [
        ("redis://127.0.0.1", RedisURL(host: "127.0.0.1")),
        ("redis://localhost:6380", RedisURL(host: "localhost", port: 6380)),
        ("redis://10.0.0.1:7000/3", RedisURL(host: "10.0.0.1", port: 7000, database: 3)),
        ("redis://:s3cret@h:1/", RedisURL(host: "h", port: 1, password: "s3cret")),
        ("redis://user:pa:ss@h", RedisURL(host: "h", password: "pa:ss")),
        ("redis://[::1]:6390", RedisURL(host: "[::1]", port: 6390)),
        ("redis://[::1]", RedisURL(host: "[::1]")),
    ])
    func parses(_ text: String, _ expected: RedisURL) throws {
        #expect(try RedisURL(parsing: text) == expected)
    }

    @Test(arguments: ["http://h", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x", "redis://h/db", "redis://:pw@"])
    func refuses(_ text: String) {
        #expect(throws: RedisURL.ParseError.self) { try RedisURL(parsing: text) }
    }

    @Test func theDescriptionHidesThePassword() throws {
        #expect(try RedisURL(parsing: "redis://:pw@h:1/2").description == "redis://h:1/2")
    }

    @Test func backoffGrowsWithJitterAndResets() {
        var backoff = ReconnectBackoff(base: 100, limit: 1_000)
        let delays = (0..<8).map { _ in backoff.nextDelay() }
        for (index, delay) in delays.enumerated() {
            let ceiling = min(1_000, Int64(100) << Int64(index))
            #expect(delay >= ceiling / 2 && delay <= ceiling)
        }
        backoff.reset()
        #expect(backoff.nextDelay() <= 100)
    }
}
