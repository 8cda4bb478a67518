import Foundation
import TestSupport
import Testing

@_spi(Internals) @testable import Push

/// Tokens minted by PyJWT, a JWT library no one here wrote. The test fails (it does not
/// skip) when PyJWT is missing: `pip install pyjwt`, or run scripts/install-test-deps.sh.
@Suite struct PyJWTInteropTests {
    static let secret = String(repeating: "current-secret-", count: 5)
    static let oldSecret = String(repeating: "previous-secret", count: 5)
    static let now = 1_700_000_000

    /// Mints every token in one Python process and prints them as one JSON object.
    static let script = """
        import base64, json, sys, warnings
        warnings.simplefilter("ignore")
        import jwt
        now, secret, old = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        claims = {"sub": "alice", "iat": now, "nbf": now - 10, "exp": now + 600,
                  "topics": ["news.*", "chat.lobby"], "publish": ["chat.lobby"]}
        def hs(payload, key=secret, **options): return jwt.encode(payload, key, algorithm="HS256", **options)
        def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        rs256 = b64(b'{"alg":"RS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode()) + "." + b64(bytes(256))
        print(json.dumps({
            "valid": hs(claims),
            "rotated": hs(claims, old),
            "all": hs({"topics": ["*"]}),
            "expired": hs(dict(claims, exp=now - 120)),
            "not_yet_valid": hs(dict(claims, nbf=now + 600)),
            "bad_signature": hs(claims, "an-unrelated-secret-that-is-long-enough-" * 2),
            "none": jwt.encode(claims, None, algorithm="none"),
            "hs512": jwt.encode(claims, secret, algorithm="HS512"),
            "rs256": rs256,
            "wrong_typ": hs(claims, headers={"typ": "at+jwt"}),
        }))
        """

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runChildProgram(["python3"] + arguments)
    }

    static func mintedTokens() throws -> [String: String]? {
        guard try run(["-c", "import jwt"]).status == 0 else {
            Issue.record("PyJWT is not importable by python3: `pip install pyjwt` (or run scripts/install-test-deps.sh)")
            return nil
        }
        let minted = try run(["-c", script, String(now), secret, oldSecret])
        try #require(minted.status == 0, "the PyJWT script failed")
        let json = try JSON(parsing: minted.output.trimmingCharacters(in: .whitespacesAndNewlines))
        guard case .object(let fields) = json else { return nil }
        return Dictionary(uniqueKeysWithValues: fields.compactMap { key, value in value.stringValue.map { (key, $0) } })
    }

    @Test func verifiesWhatPyJWTMints() throws {
        guard let tokens = try Self.mintedTokens() else { return }
        let verifier = TokenVerifier(secrets: try TokenSecrets(keys: [Array(Self.secret.utf8), Array(Self.oldSecret.utf8)]))
        let now = Double(Self.now)
        func error(_ name: String) -> TokenError? {
            do {
                _ = try verifier.verify(tokens[name] ?? "", at: now)
                return nil
            } catch {
                return error
            }
        }

        let valid = try verifier.verify(try #require(tokens["valid"]), at: now)
        #expect(valid.subject == "alice" && valid.expiresAt == now + 600 && valid.issuedAt == now)
        #expect(valid.maySubscribe("news.sport") && valid.maySubscribe("chat.lobby") && !valid.maySubscribe("chat.other"))
        #expect(valid.mayPublish("chat.lobby") && !valid.mayPublish("news.sport"))
        #expect(try verifier.verify(try #require(tokens["rotated"]), at: now).subject == "alice")
        #expect(try verifier.verify(try #require(tokens["all"]), at: now).maySubscribe("any.topic"))

        #expect(error("expired") == .expired)
        #expect(error("not_yet_valid") == .notYetValid)
        #expect(error("bad_signature") == .badSignature)
        #expect(error("none") == .unsigned)
        #expect(error("hs512") == .unsupportedAlgorithm)
        #expect(error("rs256") == .unsupportedAlgorithm)
        #expect(error("wrong_typ") == .unsupportedType)
    }

    @Test func refusesAlteredPyJWTTokens() throws {
        guard let tokens = try Self.mintedTokens() else { return }
        let verifier = TokenVerifier(secrets: try TokenSecrets(keys: [Array(Self.secret.utf8)]))
        let token = try #require(tokens["valid"])
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        try #require(parts.count == 3)
        func error(_ token: String) -> TokenError? {
            do {
                _ = try verifier.verify(token, at: Double(Self.now))
                return nil
            } catch {
                return error
            }
        }
        // The payload re-encoded with one claim changed, the signature kept.
        let payload = String(decoding: try #require(Base64URL.decode(Array(parts[1].utf8))), as: UTF8.self)
        try #require(payload.contains("alice"))
        let tampered = Base64URL.encode(Array(payload.replacingOccurrences(of: "alice", with: "admin").utf8))
        #expect(error(parts[0] + "." + tampered + "." + parts[2]) == .badSignature)
        #expect(error(parts[0] + "." + parts[1]) == .malformed)
        #expect(error(parts[1] + "." + parts[2]) == .malformed)
        #expect(error(token + "." + parts[2]) == .malformed)
        #expect(error("%%%." + parts[1] + "." + parts[2]) == .invalidEncoding(.header))
        #expect(error(parts[0] + "." + parts[1] + ".%%%") == .invalidEncoding(.signature))
        #expect(error(parts[0] + "." + parts[1] + String(repeating: "A", count: 9000) + "." + parts[2]) == .tooLarge)
    }
}
