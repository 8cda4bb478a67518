import HTTP
/// Why a client refuses the server's answer to its upgrade request (RFC 6455 §4.1).
enum ClientHandshakeError: Error, Hashable, Sendable {
    /// The status was not 101 Switching Protocols.
    case unexpectedStatus(Int)
    /// `Upgrade` does not name websocket.
    case missingUpgrade
    /// `Connection` does not include Upgrade.
    case missingConnectionUpgrade
    /// `Sec-WebSocket-Accept` is missing or does not match the key.
    case wrongAccept
    /// The server chose a subprotocol the client did not offer, or several.
    case unrequestedSubprotocol(String)
    /// The server enabled extensions the client did not ask for.
    case unrequestedExtensions(String)
}

/// The client's side of the opening handshake.
enum ClientHandshake {
    /// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64-encoded.
    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return randomKey(using: &generator)
    }

    static func randomKey(using generator: inout some RandomNumberGenerator) -> String {
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        let bytes = (0..<16).map { index in
            UInt8(truncatingIfNeeded: (index < 8 ? high : low) >> (8 * UInt64(index % 8)))
        }
        return Base64.encode(bytes)
    }

    /// The upgrade request. `host` is the `Host` field value (with the port
    /// when it is not the scheme's default); `path` includes any query.
    /// Fields are sanitised by ``HTTPHeadWriter``.
    static func request(
        host: String, path: String, key: String, subprotocols: [String] = [],
        extraHeaders: [(name: String, value: String)] = []
    ) -> [UInt8] {
        let target = path.isEmpty ? "/" : path
        var fields: [(name: String, value: String)] = [
            ("Host", host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
        ]
        if !subprotocols.isEmpty {
            fields.append(("Sec-WebSocket-Protocol", subprotocols.joined(separator: ", ")))
        }
        fields += extraHeaders
        return HTTPHeadWriter.head(startLine: "GET \(sanitisedTarget(target)) HTTP/1.1", fields: fields)
    }

    /// Checks the server's response and returns the subprotocol it chose, if any. With
    /// `offeredExtensions` the `Sec-WebSocket-Extensions` answer is left to the caller
    /// (see ``DeflateClientNegotiation``); without, any extension fails the handshake.
    static func validate(
        _ response: HTTPResponseHead, key: String, requestedSubprotocols: [String], offeredExtensions: Bool = false
    ) -> Result<String?, ClientHandshakeError> {
        guard response.status == 101 else { return .failure(.unexpectedStatus(response.status.code)) }
        guard response.hasToken("websocket", in: "Upgrade") else { return .failure(.missingUpgrade) }
        guard response.hasToken("Upgrade", in: "Connection") else { return .failure(.missingConnectionUpgrade) }
        let accepts = response.values("Sec-WebSocket-Accept")
        guard accepts == [Handshake.acceptValue(forKey: key)] else { return .failure(.wrongAccept) }
        let extensions = HTTPHeaderLookup.listElements("Sec-WebSocket-Extensions", in: response.headers)
        guard extensions.isEmpty || offeredExtensions else {
            return .failure(.unrequestedExtensions(extensions.joined(separator: ", ")))
        }
        let chosen = HTTPHeaderLookup.listElements("Sec-WebSocket-Protocol", in: response.headers)
        guard let subprotocol = chosen.first else { return .success(nil) }
        guard chosen.count == 1, requestedSubprotocols.contains(String(subprotocol)) else {
            return .failure(.unrequestedSubprotocol(chosen.joined(separator: ", ")))
        }
        return .success(String(subprotocol))
    }

    /// The target with anything that is not visible ASCII percent-encoded, so
    /// that it is one token on the request line.
    private static func sanitisedTarget(_ target: String) -> String {
        guard !target.utf8.allSatisfy(HTTPHeadSyntax.isVisibleASCII) else { return target }
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in target.utf8 {
            if HTTPHeadSyntax.isVisibleASCII(byte) {
                bytes.append(byte)
            } else {
                bytes += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
