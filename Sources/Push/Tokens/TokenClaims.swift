/// Reads the claims of a token whose signature has been checked, and checks its times.
struct TokenClaims {
    let now: Double
    let leeway: Double
    let requiresExpiry: Bool

    func token(from claims: JSON) throws(TokenError) -> ConnectionToken {
        guard case .object = claims else { throw .invalidJSON(.payload) }
        let token = ConnectionToken(
            subject: try string(claims, "sub"),
            expiresAt: try date(claims, "exp"),
            notBefore: try date(claims, "nbf"),
            issuedAt: try date(claims, "iat"),
            subscribePatterns: try patterns(claims, "topics"),
            publishPatterns: try patterns(claims, "publish")
        )
        try checkTimes(of: token)
        return token
    }

    /// The leeway absorbs clock skew between the issuer and this server, in every direction.
    private func checkTimes(of token: ConnectionToken) throws(TokenError) {
        if let expiresAt = token.expiresAt {
            guard now < expiresAt + leeway else { throw .expired }
        } else if requiresExpiry {
            throw .missingExpiry
        }
        if let notBefore = token.notBefore, now + leeway < notBefore { throw .notYetValid }
        if let issuedAt = token.issuedAt, issuedAt > now + leeway { throw .issuedInFuture }
    }

    private func string(_ claims: JSON, _ name: String) throws(TokenError) -> String? {
        guard let value = claims[name] else { return nil }
        guard case .string(let text) = value else { throw .invalidClaim(name) }
        return text
    }

    /// A NumericDate (RFC 7519 §2): a number of seconds, possibly fractional.
    private func date(_ claims: JSON, _ name: String) throws(TokenError) -> Double? {
        guard let value = claims[name] else { return nil }
        guard let seconds = value.doubleValue, seconds.isFinite else { throw .invalidClaim(name) }
        return seconds
    }

    /// An array of pattern strings; one invalid pattern refuses the token rather than being
    /// skipped, so that a typo in an issuer's grant shows at once.
    private func patterns(_ claims: JSON, _ name: String) throws(TokenError) -> [TopicPattern] {
        guard let value = claims[name] else { return [] }
        guard case .array(let elements) = value else { throw .invalidClaim(name) }
        var patterns: [TopicPattern] = []
        for element in elements {
            guard case .string(let text) = element, let pattern = TopicPattern(text) else { throw .invalidClaim(name) }
            patterns.append(pattern)
        }
        return patterns
    }
}
