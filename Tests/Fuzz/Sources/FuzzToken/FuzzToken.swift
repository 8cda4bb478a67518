import FuzzSupport
@_spi(Internals) import Push

/// The connection-token verifier on untrusted bytes.
///
/// Byte 0 picks how the rest becomes a token: 0 (mod 3), as is; 1, as `header.payload`
/// segments that the target signs; 2, as header JSON, a zero byte, payload JSON, which the
/// target encodes and signs. Signing lets the fuzzer reach the claims, which a forger never
/// would. The verifier must not crash, must accept only what the target signed, and must
/// give the same answer for the bytes and for the same text as a `String`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    guard let mode = input.first else { return 0 }
    let body = Array(input.dropFirst())
    let token: [UInt8]
    switch mode % 3 {
    case 1: token = signed(body)
    case 2: token = signed(encoded(body))
    default: token = body
    }
    let result = token.withUnsafeBytes { bytes in
        withExactCopy(of: bytes) { copy in
            Result { () throws(TokenError) in try verifier.verify(UnsafeRawBufferPointer(copy), at: now) }
        }
    }
    switch result {
    case .success(let granted):
        fuzzCheck(mode % 3 != 0, "accepted a token the target did not sign")
        fuzzCheck(granted.expiresAt.map { now < $0 + verifier.leeway } ?? true, "accepted an expired token")
    case .failure(let error):
        fuzzCheck(!error.reason.isEmpty, "no reason for \(error)")
    }
    if let text = String(validating: token, as: UTF8.self) {
        let fromText = Result { () throws(TokenError) in try verifier.verify(text, at: now) }
        fuzzCheck(fromText == result, "the text path disagrees: \(fromText) against \(result)")
    }
    return 0
}

let now = 1_700_000_000.0
let secret = Array("the fuzz target's secret, thirty-two bytes or more".utf8)
// A fixed, valid key list: TokenSecrets only refuses an empty list or a short key.
let verifier = TokenVerifier(secrets: (try? TokenSecrets(keys: [secret])) ?? fatalSecrets())

func fatalSecrets() -> TokenSecrets { fatalError("the fuzz secret is refused") }

/// `header.payload` (as given) with its signature under the target's secret.
func signed(_ input: [UInt8]) -> [UInt8] {
    let code = input.withUnsafeBytes { HMACSHA256.code(key: secret, message: $0) } ?? []
    return input + Array(".".utf8) + Array(Base64URL.encode(code).utf8)
}

/// Header and payload (split at the first zero byte) as base64url segments.
func encoded(_ input: [UInt8]) -> [UInt8] {
    let split = input.firstIndex(of: 0) ?? input.count
    let header = Base64URL.encode(input[..<split])
    let payload = Base64URL.encode(input[min(split + 1, input.count)...])
    return Array((header + "." + payload).utf8)
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzToken_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
