import FuzzSupport
@_spi(Internals) import WebSocket

/// The `Sec-WebSocket-Extensions` parser and the permessage-deflate negotiation.
///
/// Input: byte 0 picks a server configuration, the rest is the header value (as
/// UTF-8, invalid sequences replaced). Parsed elements must hold lowercase tokens and
/// token values, and written out canonically must parse to the same elements; an
/// accepted offer must be answered with a valid response that states the agreed
/// parameters, within the configuration.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: start, count: count)
    let header = String(decoding: input[1...], as: UTF8.self)
    let elements = ExtensionHeader.parse(header)
    let offers = elements.compactMap { element -> ExtensionOffer? in
        if case .offer(let offer) = element { return offer }
        return nil
    }
    for offer in offers {
        checkTokens(offer)
    }
    let canonical = offers.map(canonicalForm).joined(separator: ", ")
    fuzzCheck(ExtensionHeader.parse(canonical) == offers.map { .offer($0) }, "canonical form reparses differently: \(canonical)")
    checkNegotiation(header, configuration: configuration(input[0]))
    return 0
}

func configuration(_ byte: UInt8) -> DeflateConfiguration {
    DeflateConfiguration(
        isEnabled: true, serverNoContextTakeover: byte & 0x01 != 0, clientNoContextTakeover: byte & 0x02 != 0,
        serverMaxWindowBits: 8 + Int((byte >> 2) & 0x07), clientMaxWindowBits: byte & 0x20 != 0 ? 15 : 8 + Int(byte >> 6))
}

func checkTokens(_ offer: ExtensionOffer) {
    let isToken = { (text: String) in
        !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !"()<>@,;:\\\"/[]?={}".utf8.contains($0) }
    }
    fuzzCheck(isToken(offer.name) && offer.name == offer.name.lowercased(), "bad name \(offer.name)")
    for parameter in offer.parameters {
        fuzzCheck(isToken(parameter.name) && parameter.name == parameter.name.lowercased(), "bad parameter \(parameter.name)")
        fuzzCheck(parameter.value.map(isToken) ?? true, "bad value \(parameter.value ?? "")")
    }
}

func canonicalForm(_ offer: ExtensionOffer) -> String {
    ([offer.name] + offer.parameters.map { parameter in
        parameter.value.map { "\(parameter.name)=\"\($0)\"" } ?? parameter.name
    }).joined(separator: "; ")
}

/// The server's answer is a valid response that states the agreed parameters.
func checkNegotiation(_ header: String, configuration: DeflateConfiguration) {
    guard let agreement = DeflateServerNegotiation.accept(offersIn: header, configuration: configuration) else { return }
    let parsed = ExtensionHeader.parse(agreement.responseHeaderValue)
    guard parsed.count == 1, case .offer(let element) = parsed[0],
        let response = DeflateOfferParameters(validating: element, isResponse: true)
    else {
        fuzzCheck(false, "invalid response \(agreement.responseHeaderValue)")
        return
    }
    let parameters = agreement.parameters
    fuzzCheck(parameters.serverMaxWindowBits <= configuration.serverMaxWindowBits, "server window above the configuration")
    fuzzCheck(parameters.clientMaxWindowBits <= configuration.clientMaxWindowBits, "client window above the configuration")
    fuzzCheck(response.serverNoContextTakeover == parameters.serverNoContextTakeover, "server_no_context_takeover mismatch")
    fuzzCheck(response.clientNoContextTakeover == parameters.clientNoContextTakeover, "client_no_context_takeover mismatch")
    fuzzCheck((response.serverMaxWindowBits ?? 15) == parameters.serverMaxWindowBits, "server window mismatch")
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzExtensions_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
