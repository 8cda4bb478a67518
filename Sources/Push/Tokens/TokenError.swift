/// Why a connection token was refused. Each case has a short ``reason`` for logs and for the
/// body of a 401 response; none repeats the token or a secret.
public enum TokenError: Error, Sendable, Equatable {
    /// A part of a compact JWS.
    public enum Segment: String, Sendable {
        case header, payload, signature
    }

    /// Longer than the verifier's limit.
    case tooLarge
    /// Not three base64url segments separated by dots (a JWE, or a JWS with a segment
    /// missing or added).
    case malformed
    /// A segment that is not strict, unpadded base64url.
    case invalidEncoding(Segment)
    /// The header or the payload is not a JSON object.
    case invalidJSON(Segment)
    /// `alg` is `none`: an unsigned token is never accepted.
    case unsigned
    /// An `alg` other than HS256 (or a header without one).
    case unsupportedAlgorithm
    /// A `typ` other than `JWT`.
    case unsupportedType
    /// A `crit` header: it names extensions that must be understood, and none are.
    case unsupportedCriticalHeader
    /// The signature matches none of the secrets.
    case badSignature
    /// A registered or Pushwave claim of the wrong type or form; the claim's name.
    case invalidClaim(String)
    /// No `exp`, and the verifier requires one.
    case missingExpiry
    /// `exp` has passed (beyond the leeway).
    case expired
    /// `nbf` has not yet come (beyond the leeway).
    case notYetValid
    /// `iat` lies in the future (beyond the leeway): a clock is wrong or the token forged.
    case issuedInFuture

    /// A short, fixed explanation.
    public var reason: String {
        switch self {
        case .tooLarge: "token too large"
        case .malformed: "token is not a compact JWS (header.payload.signature)"
        case .invalidEncoding(let segment): "\(segment.rawValue) is not base64url"
        case .invalidJSON(let segment): "\(segment.rawValue) is not a JSON object"
        case .unsigned: "unsigned token (alg none)"
        case .unsupportedAlgorithm: "unsupported alg (only HS256)"
        case .unsupportedType: "unsupported typ (only JWT)"
        case .unsupportedCriticalHeader: "unsupported crit header"
        case .badSignature: "bad signature"
        case .invalidClaim(let name): "invalid claim \(name)"
        case .missingExpiry: "missing exp"
        case .expired: "token expired"
        case .notYetValid: "token not yet valid"
        case .issuedInFuture: "token issued in the future"
        }
    }
}
