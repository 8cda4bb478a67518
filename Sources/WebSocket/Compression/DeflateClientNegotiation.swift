/// Why a server's permessage-deflate response fails the handshake (RFC 7692 §5.1, §7.1).
@_spi(Internals)
public enum DeflateNegotiationError: Error, Sendable, Equatable {
    /// The header breaks the grammar, or names something other than one permessage-deflate.
    case malformedResponse
    /// A parameter the RFC does not define in a response, twice, or with a bad value.
    case invalidParameter
    /// A parameter or value the offer did not allow, or a requested one left out.
    case notOffered
}

/// The client's side of the permessage-deflate negotiation (RFC 7692 §5, §7.1).
@_spi(Internals)
public enum DeflateClientNegotiation {
    /// The `Sec-WebSocket-Extensions` offer for `configuration`, or nil when disabled.
    public static func offer(for configuration: DeflateConfiguration) -> String? {
        guard configuration.isEnabled else { return nil }
        var value = DeflateOfferParameters.extensionName
        if configuration.serverNoContextTakeover { value += "; server_no_context_takeover" }
        if configuration.clientNoContextTakeover { value += "; client_no_context_takeover" }
        if configuration.serverMaxWindowBits < 15 {
            value += "; server_max_window_bits=\(configuration.serverMaxWindowBits)"
        }
        // Always offered: it lets the server limit our window, which costs us nothing.
        if configuration.clientMaxWindowBits < 15 {
            value += "; client_max_window_bits=\(configuration.clientMaxWindowBits)"
        } else {
            value += "; client_max_window_bits"
        }
        return value
    }

    /// The parameters to run with, given the server's `Sec-WebSocket-Extensions`
    /// response to ``offer(for:)``; nil when the server declined (no header value).
    public static func validateResponse(
        _ header: String?, configuration: DeflateConfiguration
    ) throws(DeflateNegotiationError) -> DeflateParameters? {
        guard let header, header.utf8.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else {
            return nil
        }
        let elements = ExtensionHeader.parse(header)
        guard configuration.isEnabled, elements.count == 1, case .offer(let element) = elements[0],
            element.name == DeflateOfferParameters.extensionName
        else { throw .malformedResponse }
        guard let response = DeflateOfferParameters(validating: element, isResponse: true) else {
            throw .invalidParameter
        }
        return try parameters(from: response, configuration: configuration)
    }

    private static func parameters(
        from response: DeflateOfferParameters, configuration: DeflateConfiguration
    ) throws(DeflateNegotiationError) -> DeflateParameters {
        // A server that accepts an offer accepts all of it (§7.1.1.1, §7.1.2.1).
        if configuration.serverNoContextTakeover && !response.serverNoContextTakeover { throw .notOffered }
        let serverWindow = response.serverMaxWindowBits ?? 15
        if serverWindow > configuration.serverMaxWindowBits { throw .notOffered }
        let clientWindow: Int
        switch response.clientMaxWindowBits {
        case .absent:
            clientWindow = configuration.clientMaxWindowBits
        case .bits(let bits) where bits <= configuration.clientMaxWindowBits:
            clientWindow = bits
        case .bits, .noValue:
            throw .notOffered
        }
        return DeflateParameters(
            serverNoContextTakeover: response.serverNoContextTakeover,
            clientNoContextTakeover: response.clientNoContextTakeover || configuration.clientNoContextTakeover,
            serverMaxWindowBits: serverWindow,
            clientMaxWindowBits: clientWindow
        )
    }
}
