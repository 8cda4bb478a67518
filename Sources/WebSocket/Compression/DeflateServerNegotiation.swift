/// What a server agreed to: the parameters to run with and the
/// `Sec-WebSocket-Extensions` value to send back.
@_spi(Internals)
public struct DeflateAgreement: Sendable, Equatable {
    public var parameters: DeflateParameters
    /// The response element, e.g. `permessage-deflate; client_max_window_bits=10`.
    public var responseHeaderValue: String
}

/// The server's side of the permessage-deflate negotiation (RFC 7692 §5, §7.1).
@_spi(Internals)
public enum DeflateServerNegotiation {
    /// Accepts the first permessage-deflate offer in `header` (the request's
    /// `Sec-WebSocket-Extensions` lines joined with commas) that is valid and that
    /// `configuration` can satisfy; nil when there is none, or compression is disabled.
    public static func accept(offersIn header: String, configuration: DeflateConfiguration) -> DeflateAgreement? {
        guard configuration.isEnabled else { return nil }
        for case .offer(let element) in ExtensionHeader.parse(header) {
            guard let offer = DeflateOfferParameters(validating: element, isResponse: false) else { continue }
            if let agreement = agreement(for: offer, configuration: configuration) {
                return agreement
            }
        }
        return nil
    }

    /// The answer to one valid offer, or nil to decline it.
    static func agreement(for offer: DeflateOfferParameters, configuration: DeflateConfiguration) -> DeflateAgreement? {
        // The client's window can be limited only through client_max_window_bits, which
        // the response may carry only if the offer did (§7.1.2.2).
        let clientWindow: Int
        switch offer.clientMaxWindowBits {
        case .absent:
            guard configuration.clientMaxWindowBits == 15 else { return nil }
            clientWindow = 15
        case .noValue:
            clientWindow = configuration.clientMaxWindowBits
        case .bits(let offered):
            clientWindow = min(offered, configuration.clientMaxWindowBits)
        }
        // The reply may lower the server's window but never raise it above an offered one (§7.1.2.1).
        let serverWindow = min(offer.serverMaxWindowBits ?? 15, configuration.serverMaxWindowBits)
        let parameters = DeflateParameters(
            // Both may be sent unasked (§7.1.1.1, §7.1.1.2); an offered one must be accepted.
            serverNoContextTakeover: offer.serverNoContextTakeover || configuration.serverNoContextTakeover,
            clientNoContextTakeover: offer.clientNoContextTakeover || configuration.clientNoContextTakeover,
            serverMaxWindowBits: serverWindow,
            clientMaxWindowBits: clientWindow
        )
        let response = responseValue(parameters, offer: offer)
        return DeflateAgreement(parameters: parameters, responseHeaderValue: response)
    }

    private static func responseValue(_ parameters: DeflateParameters, offer: DeflateOfferParameters) -> String {
        var value = DeflateOfferParameters.extensionName
        if parameters.serverNoContextTakeover { value += "; server_no_context_takeover" }
        if parameters.clientNoContextTakeover { value += "; client_no_context_takeover" }
        if offer.serverMaxWindowBits != nil || parameters.serverMaxWindowBits < 15 {
            value += "; server_max_window_bits=\(parameters.serverMaxWindowBits)"
        }
        if offer.clientMaxWindowBits != .absent, parameters.clientMaxWindowBits < 15 {
            value += "; client_max_window_bits=\(parameters.clientMaxWindowBits)"
        }
        return value
    }
}
