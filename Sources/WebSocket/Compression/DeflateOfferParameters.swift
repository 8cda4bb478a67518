/// The parameters of one permessage-deflate offer or response, checked against
/// RFC 7692 §7.1: only the four parameters the RFC defines, none twice, the
/// `…_no_context_takeover` ones without a value, window sizes `8`–`15` written
/// without leading zeros.
@_spi(Internals)
public struct DeflateOfferParameters: Sendable, Equatable {
    /// What an element said about `client_max_window_bits`, which alone may appear
    /// with or without a value (without one only in an offer, §7.1.2.2).
    public enum ClientWindow: Sendable, Equatable {
        case absent
        /// The client supports the parameter in the response but sets no limit itself.
        case noValue
        case bits(Int)
    }

    /// The extension's registered name.
    public static let extensionName = "permessage-deflate"

    public var serverNoContextTakeover = false
    public var clientNoContextTakeover = false
    public var serverMaxWindowBits: Int?
    public var clientMaxWindowBits = ClientWindow.absent

    public init() {}

    /// The parameters of `element`, or nil if it is not a valid permessage-deflate
    /// offer (or, when `isResponse`, response).
    public init?(validating element: ExtensionOffer, isResponse: Bool) {
        guard element.name == Self.extensionName else { return nil }
        var seen = Set<String>()
        for parameter in element.parameters {
            guard seen.insert(parameter.name).inserted, set(parameter, isResponse: isResponse) else { return nil }
        }
    }

    /// Records one parameter; false if it is unknown or its value is wrong.
    private mutating func set(_ parameter: ExtensionParameter, isResponse: Bool) -> Bool {
        switch (parameter.name, parameter.value) {
        case ("server_no_context_takeover", nil):
            serverNoContextTakeover = true
        case ("client_no_context_takeover", nil):
            clientNoContextTakeover = true
        case ("server_max_window_bits", let value?):
            guard let bits = Self.windowBits(value) else { return false }
            serverMaxWindowBits = bits
        case ("client_max_window_bits", nil):
            guard !isResponse else { return false }
            clientMaxWindowBits = .noValue
        case ("client_max_window_bits", let value?):
            guard let bits = Self.windowBits(value) else { return false }
            clientMaxWindowBits = .bits(bits)
        default:
            return false
        }
        return true
    }

    /// `8`…`15`, exactly: no sign, no leading zero, no other digits.
    static func windowBits(_ text: String) -> Int? {
        guard let first = text.utf8.first, first != UInt8(ascii: "0"), text.utf8.count <= 2,
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let bits = Int(text), DeflateConfiguration.windowBitsRange.contains(bits)
        else { return nil }
        return bits
    }
}
