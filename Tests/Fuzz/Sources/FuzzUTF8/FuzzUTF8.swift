import FuzzSupport
@_spi(Internals) import WebSocket

/// The incremental UTF-8 validator, against the standard library.
///
/// The whole input is the text. The validator must accept it (and end complete)
/// exactly when `String(validating:as:)` does, fed in one piece, in two pieces cut
/// at a position derived from the input, and byte by byte. Fed byte by byte, it
/// must also reject at the right byte: the bytes before it must be the start of
/// some valid text, and the bytes up to it must not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    let isValid = String(validating: input, as: UTF8.self) != nil

    var validator = UTF8Validator()
    let accepted = withExactCopy(of: input) { validator.validate(UnsafeRawBufferPointer($0)) }
    fuzzCheck((accepted && validator.isComplete) == isValid, "in one piece: validate \(accepted), isComplete \(validator.isComplete), standard library \(isValid)")
    fuzzCheck(accepted || !validator.isComplete, "isComplete after a rejection")

    // In two pieces.
    let cut = count == 0 ? 0 : (Int(input[0]) << 8 | Int(input[count - 1])) % (count + 1)
    var twoPieces = UTF8Validator()
    let firstAccepted = withExactCopy(of: UnsafeRawBufferPointer(rebasing: input[..<cut])) { twoPieces.validate(UnsafeRawBufferPointer($0)) }
    let secondAccepted = withExactCopy(of: UnsafeRawBufferPointer(rebasing: input[cut...]), emptyHasBase: count & 1 == 0) {
        twoPieces.validate(UnsafeRawBufferPointer($0))
    }
    fuzzCheck(!(!firstAccepted && secondAccepted), "accepted again after a rejection (cut at \(cut))")
    fuzzCheck((secondAccepted && twoPieces.isComplete) == isValid, "cut at \(cut): validate \(secondAccepted), isComplete \(twoPieces.isComplete), standard library \(isValid)")

    // Byte by byte: where the rejection happens.
    var byByte = UTF8Validator()
    var rejectedAt: Int?
    for index in 0..<count where byByte.validate(UnsafeRawBufferPointer(rebasing: input[index...index])) == false {
        rejectedAt = index
        break
    }
    fuzzCheck((rejectedAt == nil && byByte.isComplete) == isValid, "byte by byte: rejected at \(rejectedAt.map(String.init) ?? "none"), standard library \(isValid)")
    if let rejectedAt {
        fuzzCheck(!byByte.validate(UnsafeRawBufferPointer(start: nil, count: 0)), "accepted again after a rejection")
        fuzzCheck(canComplete(input[..<rejectedAt]), "rejected at \(rejectedAt), but the bytes before it start valid text")
        fuzzCheck(!canComplete(input[...rejectedAt]), "rejected at \(rejectedAt), too late: the bytes before it cannot start valid text")
    } else {
        fuzzCheck(canComplete(input[...]), "accepted bytes that cannot start valid text")
    }
    return 0
}

/// Whether some 0 to 3 more bytes make `prefix` valid UTF-8. A sequence can only
/// be completed by continuation bytes, whose allowed ranges all contain one of
/// 80, 8F, 90, 9F, A0 or BF for the first and 80 for the others.
func canComplete(_ prefix: Slice<UnsafeRawBufferPointer>) -> Bool {
    let bytes = Array(prefix)
    if String(validating: bytes, as: UTF8.self) != nil { return true }
    for length in 1...3 {
        for first: UInt8 in [0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF] {
            let completion = [first] + [UInt8](repeating: 0x80, count: length - 1)
            if String(validating: bytes + completion, as: UTF8.self) != nil { return true }
        }
    }
    return false
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzUTF8_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
