import Testing

@_spi(Internals) @testable import Push

@Suite struct TokenVerifierTests {
    static let secret = Array("a secret of at least thirty-two bytes, for HS256".utf8)
    static let otherSecret = Array("another secret, at least thirty-two bytes long too".utf8)
    static let now = 1_700_000_000.0

    static func verifier(_ keys: [[UInt8]] = [secret], requiresExpiry: Bool = false) throws -> TokenVerifier {
        TokenVerifier(secrets: try TokenSecrets(keys: keys), leeway: 30, requiresExpiry: requiresExpiry)
    }

    /// A compact JWS of the JSON texts `header` and `payload` signed with `key`.
    static func mint(header: String = #"{"alg":"HS256","typ":"JWT"}"#, _ payload: String, key: [UInt8] = secret) -> String {
        sign(Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8)), key: key)
    }

    /// `input` (header and payload segments, as they are) with its signature under `key`.
    static func sign(_ input: String, key: [UInt8] = secret) -> String {
        let code = Array(input.utf8).withUnsafeBytes { HMACSHA256.code(key: key, message: $0) } ?? []
        return input + "." + Base64URL.encode(code)
    }

    static func error(_ token: String, _ verifier: TokenVerifier? = nil) -> TokenError? {
        do {
            let verifier = try verifier ?? Self.verifier()
            _ = try verifier.verify(token, at: now)
            return nil
        } catch let error as TokenError {
            return error
        } catch {
            return nil
        }
    }

    /// RFC 7515 Appendix A.1: its key and its token, byte for byte.
    @Test func rfc7515AppendixA1() throws {
        let key = try #require(Base64URL.decode(Array("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow".utf8)))
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
            + ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
            + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        let verifier = try Self.verifier([key])
        let verified = try verifier.verify(token, at: 1_300_819_370)
        #expect(verified.expiresAt == 1_300_819_380)
        #expect(verified.subject == nil && verified.subscribePatterns.isEmpty)
        #expect(throws: TokenError.expired) { try verifier.verify(token, at: 1_300_819_380 + 30) }
        let flipped = String(token.dropLast()) + "g"
        #expect(throws: TokenError.badSignature) { try verifier.verify(flipped, at: 1_300_819_370) }
    }

    @Test func grantsWhatTheClaimsSay() throws {
        let token = Self.mint(#"{"sub":"alice","exp":1700000600,"nbf":1699999990,"iat":1700000000.5,"topics":["news.*","chat.lobby"],"publish":["chat.lobby"]}"#)
        let verified = try Self.verifier().verify(token, at: Self.now)
        #expect(verified.subject == "alice")
        #expect(verified.expiresAt == 1_700_000_600 && verified.notBefore == 1_699_999_990 && verified.issuedAt == 1_700_000_000.5)
        #expect(verified.maySubscribe("news.sport") && verified.maySubscribe("chat.lobby"))
        #expect(!verified.maySubscribe("news") && !verified.maySubscribe("chat.other"))
        #expect(verified.mayPublish("chat.lobby") && !verified.mayPublish("news.sport"))
    }

    @Test func everythingAndNothing() throws {
        let all = try Self.verifier().verify(Self.mint(#"{"topics":["*"]}"#), at: Self.now)
        #expect(all.maySubscribe("x") && !all.mayPublish("x"))
        let none = try Self.verifier().verify(Self.mint("{}"), at: Self.now)
        #expect(!none.maySubscribe("x") && !none.mayPublish("x") && none.expiresAt == nil)
    }

    @Test func timesWithLeeway() {
        #expect(Self.error(Self.mint(#"{"exp":1700000000}"#)) == nil)  // within the 30 s leeway
        #expect(Self.error(Self.mint(#"{"exp":1699999970}"#)) == .expired)
        #expect(Self.error(Self.mint(#"{"nbf":1700000030}"#)) == nil)
        #expect(Self.error(Self.mint(#"{"nbf":1700000031}"#)) == .notYetValid)
        #expect(Self.error(Self.mint(#"{"iat":1700000031}"#)) == .issuedInFuture)
        #expect(Self.error(Self.mint("{}"), try? Self.verifier(requiresExpiry: true)) == .missingExpiry)
    }

    @Test func claimsOfTheWrongType() {
        #expect(Self.error(Self.mint(#"{"exp":"soon"}"#)) == .invalidClaim("exp"))
        #expect(Self.error(Self.mint(#"{"nbf":null}"#)) == .invalidClaim("nbf"))
        #expect(Self.error(Self.mint(#"{"sub":7}"#)) == .invalidClaim("sub"))
        #expect(Self.error(Self.mint(#"{"topics":"news.*"}"#)) == .invalidClaim("topics"))
        #expect(Self.error(Self.mint(#"{"topics":["news*"]}"#)) == .invalidClaim("topics"))
        #expect(Self.error(Self.mint(#"{"publish":[1]}"#)) == .invalidClaim("publish"))
        #expect(Self.error(Self.mint("[]")) == .invalidJSON(.payload))
        #expect(Self.error(Self.mint(#"{"a":1,"a":2}"#)) == .invalidJSON(.payload))
    }

    @Test func headers() {
        #expect(Self.error(Self.mint(header: #"{"alg":"HS256"}"#, "{}")) == nil)
        #expect(Self.error(Self.mint(header: #"{"alg":"HS256","typ":"jwt"}"#, "{}")) == nil)
        #expect(Self.error(Self.mint(header: #"{"alg":"none"}"#, "{}")) == .unsigned)
        #expect(Self.error(Self.mint(header: #"{"alg":"NoNe"}"#, "{}")) == .unsigned)
        #expect(Self.error(Self.mint(header: #"{"alg":"HS512"}"#, "{}")) == .unsupportedAlgorithm)
        #expect(Self.error(Self.mint(header: #"{"alg":"hs256"}"#, "{}")) == .unsupportedAlgorithm)
        #expect(Self.error(Self.mint(header: #"{"typ":"JWT"}"#, "{}")) == .unsupportedAlgorithm)
        #expect(Self.error(Self.mint(header: #"{"alg":"HS256","typ":"JWE"}"#, "{}")) == .unsupportedType)
        #expect(Self.error(Self.mint(header: #"{"alg":"HS256","typ":1}"#, "{}")) == .unsupportedType)
        #expect(Self.error(Self.mint(header: #"{"alg":"HS256","crit":["exp"]}"#, "{}")) == .unsupportedCriticalHeader)
        #expect(Self.error(Self.mint(header: #"{"alg":"HS256","alg":"none"}"#, "{}")) == .invalidJSON(.header))
        #expect(Self.error(Self.mint(header: "nope", "{}")) == .invalidJSON(.header))
    }

    @Test func shapeAndEncoding() {
        let token = Self.mint(#"{"sub":"a"}"#)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        #expect(Self.error("") == .malformed)
        #expect(Self.error(parts[0] + "." + parts[1]) == .malformed)
        #expect(Self.error(token + "." + parts[2]) == .malformed)
        #expect(Self.error(token + ".") == .malformed)
        #expect(Self.error(parts[0] + "." + parts[1] + ".") == .badSignature)
        #expect(Self.error(parts[0] + "=." + parts[1] + "." + parts[2]) == .invalidEncoding(.header))
        #expect(Self.error(parts[0] + "." + parts[1] + "!." + parts[2]) == .badSignature)
        #expect(Self.error(Self.sign(parts[0] + "." + parts[1] + "!")) == .invalidEncoding(.payload))
        #expect(Self.error(Self.sign(parts[0] + "." + parts[1] + "=")) == .invalidEncoding(.payload))
        #expect(Self.error(token + "=") == .invalidEncoding(.signature))
        #expect(Self.error(parts[0] + "." + parts[1] + "." + parts[2].replacingFirst("-", "+")) != nil)
    }

    @Test func signatures() throws {
        let token = Self.mint(#"{"sub":"a"}"#)
        #expect(Self.error(Self.mint(#"{"sub":"a"}"#, key: Self.otherSecret)) == .badSignature)
        let parts = token.split(separator: ".").map(String.init)
        let tampered = parts[0] + "." + Base64URL.encode(Array(#"{"sub":"b"}"#.utf8)) + "." + parts[2]
        #expect(Self.error(tampered) == .badSignature)
        // A signature one byte short or long is refused without an HMAC.
        let short = parts[0] + "." + parts[1] + "." + Base64URL.encode([UInt8](repeating: 0, count: 31))
        #expect(Self.error(short) == .badSignature)
    }

    @Test func keyRotation() throws {
        let rotated = try Self.verifier([Self.otherSecret, Self.secret])
        #expect(try rotated.verify(Self.mint(#"{"sub":"old"}"#), at: Self.now).subject == "old")
        #expect(try rotated.verify(Self.mint(#"{"sub":"new"}"#, key: Self.otherSecret), at: Self.now).subject == "new")
        #expect(Self.error(Self.mint("{}", key: Array("a third secret, also thirty-two bytes or more".utf8)), rotated) == .badSignature)
    }

    @Test func sizeIsBounded() throws {
        let padding = String(repeating: "x", count: 8192)
        let token = Self.mint(#"{"sub":"\#(padding)"}"#)
        #expect(Self.error(token) == .tooLarge)
        let roomy = TokenVerifier(secrets: try TokenSecrets(keys: [Self.secret]), maximumTokenBytes: 20_000)
        #expect(Self.error(token, roomy) == nil)
        #expect(Self.error(String(repeating: ".", count: 9000)) == .tooLarge)
    }

    @Test func reasonsAreShortAndDistinct() {
        let errors: [TokenError] = [
            .tooLarge, .malformed, .invalidEncoding(.header), .invalidJSON(.payload), .unsigned, .unsupportedAlgorithm,
            .unsupportedType, .unsupportedCriticalHeader, .badSignature, .invalidClaim("exp"), .missingExpiry, .expired,
            .notYetValid, .issuedInFuture,
        ]
        #expect(Set(errors.map(\.reason)).count == errors.count)
        #expect(errors.allSatisfy { $0.reason.count < 60 })
    }
}

extension String {
    fileprivate func replacingFirst(_ target: Character, _ replacement: Character) -> String {
        guard let index = firstIndex(of: target) else { return self + String(replacement) }
        var copy = self
        copy.replaceSubrange(index...index, with: String(replacement))
        return copy
    }
}
