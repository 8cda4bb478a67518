#if canImport(Glibc)
import Glibc
#endif

/// Verifies connection tokens: JWTs (RFC 7519) in JWS compact form (RFC 7515), signed with
/// HS256 under one of the server's secrets.
///
/// Only HS256 is accepted, and never an unsigned token (`alg: none`): the algorithm is the
/// server's choice, not the token's. A token is checked in an order that does the least work
/// for a forger: size, shape, header, signature (against every secret, so that secrets can be
/// rotated: sign with the new one while the old one still verifies), and only then the
/// claims, of which the times are checked against a small leeway for clock skew.
public struct TokenVerifier: Sendable {
    /// The secrets any of which may have signed a token.
    public var secrets: TokenSecrets
    /// Seconds of clock skew forgiven when checking `exp`, `nbf` and `iat`.
    public var leeway: Double
    /// The longest token accepted, in bytes.
    public var maximumTokenBytes: Int
    /// Whether a token without `exp` is refused.
    public var requiresExpiry: Bool

    /// A verifier for tokens signed with one of `secrets`.
    public init(secrets: TokenSecrets, leeway: Double = 30, maximumTokenBytes: Int = 8192, requiresExpiry: Bool = false) {
        self.secrets = secrets
        self.leeway = leeway
        self.maximumTokenBytes = maximumTokenBytes
        self.requiresExpiry = requiresExpiry
    }

    /// Verifies `token` now (the system's real-time clock).
    public func verify(_ token: String) throws(TokenError) -> ConnectionToken {
        try verify(token, at: WallClock.seconds())
    }

    /// Verifies `token` as of `now`, in seconds since 1970-01-01 UTC.
    public func verify(_ token: String, at now: Double) throws(TokenError) -> ConnectionToken {
        // Refused before any copy, however long the text.
        guard token.utf8.count <= maximumTokenBytes else { throw .tooLarge }
        var token = token
        return try token.withUTF8 { bytes in
            Result { () throws(TokenError) in try verify(UnsafeRawBufferPointer(bytes), at: now) }
        }.get()
    }

    /// Verifies the token whose bytes are `token` as of `now`, in seconds since 1970-01-01 UTC.
    public func verify(_ token: UnsafeRawBufferPointer, at now: Double) throws(TokenError) -> ConnectionToken {
        guard token.count <= maximumTokenBytes else { throw .tooLarge }
        let parts = try CompactParts(token)
        try checkHeader(try json(token[parts.header], .header))
        try checkSignature(token, parts)
        let claims = try json(token[parts.payload], .payload)
        return try TokenClaims(now: now, leeway: leeway, requiresExpiry: requiresExpiry).token(from: claims)
    }

    // MARK: Steps

    private func json(_ segment: Slice<UnsafeRawBufferPointer>, _ name: TokenError.Segment) throws(TokenError) -> JSON {
        guard let bytes = Base64URL.decode(segment) else { throw .invalidEncoding(name) }
        // A token's JSON is small and flat; the byte limit is the token's own.
        let limits = JSONLimits(maximumDepth: 16, maximumBytes: maximumTokenBytes)
        guard let value = try? JSON(parsing: bytes, limits: limits), case .object = value else { throw .invalidJSON(name) }
        return value
    }

    private func checkHeader(_ header: JSON) throws(TokenError) {
        guard case .string(let algorithm) = header["alg"] else { throw .unsupportedAlgorithm }
        // Any spelling of "none" counts: libraries have been fooled by "None" and "NONE".
        if algorithm.lowercased() == "none" { throw .unsigned }
        // Algorithm names are case-sensitive (RFC 7515 §4.1.1).
        guard algorithm == "HS256" else { throw .unsupportedAlgorithm }
        if let type = header["typ"] {
            // typ is a media type, compared without case (RFC 7519 §5.1).
            guard case .string(let name) = type, name.lowercased() == "jwt" else { throw .unsupportedType }
        }
        if header["crit"] != nil { throw .unsupportedCriticalHeader }
    }

    private func checkSignature(_ token: UnsafeRawBufferPointer, _ parts: CompactParts) throws(TokenError) {
        guard let signature = Base64URL.decode(token[parts.signature]) else { throw .invalidEncoding(.signature) }
        guard signature.count == HMACSHA256.byteCount else { throw .badSignature }
        let signingInput = UnsafeRawBufferPointer(rebasing: token[parts.signingInput])
        let matches = secrets.keys.contains { key in
            HMACSHA256.code(key: key, message: signingInput).map { HMACSHA256.constantTimeEqual($0, signature) } ?? false
        }
        guard matches else { throw .badSignature }
    }

}

/// Where the three segments of a compact JWS lie: `header.payload.signature`, exactly two
/// dots (a JWE has four, and is refused).
struct CompactParts {
    let header: Range<Int>
    let payload: Range<Int>
    let signature: Range<Int>
    /// What the signature covers: header, dot, payload, exactly as sent.
    var signingInput: Range<Int> { header.lowerBound..<payload.upperBound }

    init(_ token: UnsafeRawBufferPointer) throws(TokenError) {
        var dots: [Int] = []
        for (index, byte) in token.enumerated() where byte == UInt8(ascii: ".") {
            guard dots.count < 2 else { throw .malformed }
            dots.append(index)
        }
        guard dots.count == 2 else { throw .malformed }
        header = 0..<dots[0]
        payload = dots[0] + 1..<dots[1]
        signature = dots[1] + 1..<token.count
    }
}
