import FuzzSupport
import Push

/// The JSON parser on untrusted bytes.
///
/// The whole input is the document, parsed under limits picked from its length (so that
/// both limits are reached now and then). A rejection must point inside the input; an
/// accepted value, written out, must parse back to an equal value, and the text path
/// must agree with the bytes path.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    let limits = count % 7 == 0 ? JSONLimits(maximumDepth: 4, maximumBytes: 512) : JSONLimits.default
    let result = withExactCopy(of: input) { copy in
        Result { () throws(JSONParseError) in try JSON(parsing: UnsafeRawBufferPointer(copy), limits: limits) }
    }
    switch result {
    case .failure(let error):
        let limit = error.reason == .tooLarge ? limits.maximumBytes : count
        fuzzCheck(error.offset >= 0 && error.offset <= limit, "error \(error.reason) at \(error.offset) of \(count)")
        if error.reason != .tooLarge { fuzzCheck(count <= limits.maximumBytes, "size limit not applied first") }
    case .success(let value):
        let written = value.serialized
        let reparsed = Result { () throws(JSONParseError) in try JSON(parsing: written) }
        fuzzCheck((try? reparsed.get()) == value, "written as \(written), parsed back as \(reparsed)")
        if let text = String(validating: input, as: UTF8.self) {
            fuzzCheck((try? JSON(parsing: text, limits: limits)) == value, "the text path disagrees")
        } else {
            fuzzCheck(false, "accepted bytes that are not UTF-8")
        }
    }
    return 0
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzJSON_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
