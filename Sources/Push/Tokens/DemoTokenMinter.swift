/// Signs connection tokens for `GET /demo/token?sub=NAME`, so that the chat page can show a
/// server with tokens switched on. Demonstration only: a real deployment mints tokens in its
/// own backend, after its own login, with the claims that user may have.
struct DemoTokenMinter: Sendable {
    let secret: [UInt8]
    /// Topic patterns the demo token allows to subscribe and publish to.
    let topics: [String]
    let lifetimeSeconds: Double

    func mint(subject: String, now: Double = WallClock.seconds()) -> String? {
        let header = JSON.object([("alg", .string("HS256")), ("typ", .string("JWT"))])
        let claims = JSON.object([
            ("sub", .string(subject)), ("iat", .int(Int(now))), ("exp", .int(Int(now + lifetimeSeconds))),
            ("topics", .array(topics.map(JSON.string))), ("publish", .array(topics.map(JSON.string))),
        ])
        let signingInput = Base64URL.encode(Array(header.serialized.utf8)) + "." + Base64URL.encode(Array(claims.serialized.utf8))
        guard let signature = Array(signingInput.utf8).withUnsafeBytes({ HMACSHA256.code(key: secret, message: $0) }) else { return nil }
        return signingInput + "." + Base64URL.encode(signature)
    }
}
