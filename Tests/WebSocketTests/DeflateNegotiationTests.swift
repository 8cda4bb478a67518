import Testing

@_spi(Internals) @testable import WebSocket

@Suite struct DeflateNegotiationTests {
    static let enabled = DeflateConfiguration(isEnabled: true)

    static func accept(_ header: String, _ configuration: DeflateConfiguration = enabled) -> String? {
        DeflateServerNegotiation.accept(offersIn: header, configuration: configuration)?.responseHeaderValue
    }

    /// Offers and the response with the default configuration, including RFC 7692 §5's
    /// and §7.1's examples.
    @Test(arguments: [
        ("permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=15", "permessage-deflate; server_max_window_bits=15"),
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
        ("permessage-deflate; client_max_window_bits=\"8\"", "permessage-deflate; client_max_window_bits=8"),
        ("PerMessage-Deflate; Server_Max_Window_Bits=9", "permessage-deflate; server_max_window_bits=9"),
        // §5: a first offer the server cannot take, then a fallback.
        ("permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
         "permessage-deflate; server_max_window_bits=10"),
        ("foo, permessage-deflate; bogus, permessage-deflate; server_no_context_takeover",
         "permessage-deflate; server_no_context_takeover"),
    ])
    func offersAreAnswered(offer: String, response: String) {
        #expect(Self.accept(offer) == response)
    }

    @Test(arguments: [
        "", "foo", "permessage-deflate; bogus", "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; client_no_context_takeover=\"x\"",
        "permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16", "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=0", "permessage-deflate; client_max_window_bits=+9",
        "permessage-deflate; client_max_window_bits=9; client_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=\"1 0\"", "permessage-deflate;",
    ])
    func invalidOffersAreDeclined(offer: String) {
        #expect(Self.accept(offer) == nil)
    }

    @Test func nothingIsAcceptedWhenDisabled() {
        #expect(Self.accept("permessage-deflate", DeflateConfiguration()) == nil)
    }

    @Test func theServerConfigurationShapesTheReply() throws {
        let frugal = DeflateConfiguration(
            isEnabled: true, serverNoContextTakeover: true, clientNoContextTakeover: true,
            serverMaxWindowBits: 10, clientMaxWindowBits: 12)
        // Without client_max_window_bits in the offer the client's window cannot be limited.
        #expect(Self.accept("permessage-deflate", frugal) == nil)
        let agreement = try #require(DeflateServerNegotiation.accept(
            offersIn: "permessage-deflate; client_max_window_bits; server_max_window_bits=12", configuration: frugal))
        #expect(agreement.responseHeaderValue == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12")
        #expect(agreement.parameters == DeflateParameters(
            serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12))
        // Never a larger window than offered.
        let smaller = Self.accept("permessage-deflate; client_max_window_bits=9; server_max_window_bits=8", frugal)
        #expect(smaller == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=9")
        // An unasked server window limit is announced.
        let limitedServer = DeflateConfiguration(isEnabled: true, serverMaxWindowBits: 11)
        #expect(Self.accept("permessage-deflate", limitedServer) == "permessage-deflate; server_max_window_bits=11")
    }

    @Test func parametersPerRole() {
        let parameters = DeflateParameters(serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12)
        #expect(parameters.sendWindowBits(as: .server) == 10 && parameters.receiveWindowBits(as: .server) == 12)
        #expect(parameters.sendWindowBits(as: .client) == 12 && parameters.receiveWindowBits(as: .client) == 10)
        #expect(!parameters.sendsWithContextTakeover(as: .server) && parameters.receivesWithContextTakeover(as: .server))
        #expect(parameters.sendsWithContextTakeover(as: .client) && !parameters.receivesWithContextTakeover(as: .client))
    }

    // MARK: The client

    @Test func theClientOffer() {
        #expect(DeflateClientNegotiation.offer(for: DeflateConfiguration()) == nil)
        #expect(DeflateClientNegotiation.offer(for: Self.enabled) == "permessage-deflate; client_max_window_bits")
        let frugal = DeflateConfiguration(
            isEnabled: true, serverNoContextTakeover: true, clientNoContextTakeover: true,
            serverMaxWindowBits: 10, clientMaxWindowBits: 9)
        #expect(DeflateClientNegotiation.offer(for: frugal) == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9")
    }

    /// Every reply our server gives to our client's offer is accepted with the same parameters.
    @Test(arguments: [false, true], 8...15)
    func ourServerAndClientAgree(noContextTakeover: Bool, windowBits: Int) throws {
        let configuration = DeflateConfiguration(
            isEnabled: true, serverNoContextTakeover: noContextTakeover, clientNoContextTakeover: noContextTakeover,
            serverMaxWindowBits: windowBits, clientMaxWindowBits: windowBits)
        let offer = try #require(DeflateClientNegotiation.offer(for: configuration))
        let agreement = try #require(DeflateServerNegotiation.accept(offersIn: offer, configuration: configuration))
        let clientSide = try DeflateClientNegotiation.validateResponse(agreement.responseHeaderValue, configuration: configuration)
        #expect(clientSide == agreement.parameters)
    }

    @Test func responsesTheClientAccepts() throws {
        let configuration = DeflateConfiguration(isEnabled: true, clientMaxWindowBits: 12)
        #expect(try DeflateClientNegotiation.validateResponse(nil, configuration: configuration) == nil)
        #expect(try DeflateClientNegotiation.validateResponse("", configuration: configuration) == nil)
        let unasked = try DeflateClientNegotiation.validateResponse(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10",
            configuration: configuration)
        #expect(unasked == DeflateParameters(
            serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10))
        let plain = try DeflateClientNegotiation.validateResponse("permessage-deflate", configuration: configuration)
        #expect(plain == DeflateParameters(clientMaxWindowBits: 12))
    }

    @Test(arguments: [
        ("foo", DeflateNegotiationError.malformedResponse),
        ("permessage-deflate, permessage-deflate", .malformedResponse),
        ("permessage-deflate; a b", .malformedResponse),
        ("permessage-deflate; bogus", .invalidParameter),
        ("permessage-deflate; client_max_window_bits", .invalidParameter),
        ("permessage-deflate; server_max_window_bits=16", .invalidParameter),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", .invalidParameter),
        ("permessage-deflate; client_max_window_bits=13", .notOffered),
        ("permessage-deflate; server_max_window_bits=11", .notOffered),
        ("permessage-deflate; server_no_context_takeover", .notOffered),
        ("permessage-deflate; server_max_window_bits=10", .notOffered),
    ])
    func responsesThatFailTheHandshake(response: String, error: DeflateNegotiationError) {
        let configuration = DeflateConfiguration(isEnabled: true, serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12)
        let valid = "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        #expect(throws: Never.self) { try DeflateClientNegotiation.validateResponse(valid, configuration: configuration) }
        #expect(throws: error) { try DeflateClientNegotiation.validateResponse(response, configuration: configuration) }
    }
}
