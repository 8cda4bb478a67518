import HTTP
/// Why a server refuses an upgrade request, and the response that says so.
struct HandshakeRejection: Error, Sendable {
    var status: HTTPStatus
    /// A short explanation, sent as the plain-text body.
    var message: String
    /// Fields the status calls for, such as `Allow` for 405.
    var headers: [(name: String, value: String)]

    init(_ status: HTTPStatus, _ message: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    /// The complete response, closing the connection.
    var response: [UInt8] {
        HTTPResponse.plainText(status: status, message, headers: headers)
    }
}

/// Checks that a request is a valid WebSocket upgrade (RFC 6455 §4.2.1).
///
/// Statuses, in the order checked:
/// - not GET → 405 with `Allow: GET`;
/// - HTTP/1.0 → 400: Upgrade needs 1.1 (RFC 9110 §7.8 says to ignore it in 1.0);
/// - no `Host`, or more than one → 400 (RFC 9112 §3.2);
/// - no `Upgrade` field at all → 426 with `Upgrade: websocket`: a plain HTTP
///   request reached a WebSocket endpoint, and 426 tells the client what it needs;
/// - `Upgrade` without the `websocket` token, or `Connection` without the
///   `Upgrade` token → 400 (RFC 6455 §4.2.2: a malformed handshake);
/// - no `Sec-WebSocket-Version` → 400; a version other than 13 → 426 with
///   `Sec-WebSocket-Version: 13` (RFC 6455 §4.4);
/// - `Sec-WebSocket-Key` missing, repeated, or not base64 of 16 bytes → 400;
/// - a body (`Content-Length` other than 0, or `Transfer-Encoding`) → 400: the
///   bytes after the head must be frames.
enum UpgradeRequest {
    static func validate(_ head: HTTPRequestHead) -> Result<String, HandshakeRejection> {
        if let rejection = httpRejection(head) ?? upgradeRejection(head) ?? versionRejection(head) {
            return .failure(rejection)
        }
        switch key(head) {
        case .success(let key):
            if let rejection = bodyRejection(head) { return .failure(rejection) }
            return .success(key)
        case .failure(let rejection):
            return .failure(rejection)
        }
    }

    private static func httpRejection(_ head: HTTPRequestHead) -> HandshakeRejection? {
        if head.method != "GET" {
            return HandshakeRejection(.methodNotAllowed, "A WebSocket upgrade must use GET.", headers: [("Allow", "GET")])
        }
        if head.version < .http1_1 {
            return HandshakeRejection(.badRequest, "A WebSocket upgrade needs HTTP/1.1.")
        }
        if head.values("Host").count != 1 {
            return HandshakeRejection(.badRequest, "Exactly one Host header is required.")
        }
        return nil
    }

    private static func upgradeRejection(_ head: HTTPRequestHead) -> HandshakeRejection? {
        if head.values("Upgrade").isEmpty {
            return HandshakeRejection(
                .upgradeRequired, "This endpoint speaks WebSocket only.",
                headers: [("Upgrade", "websocket"), ("Connection", "Upgrade")])
        }
        if !head.hasToken("websocket", in: "Upgrade") {
            return HandshakeRejection(.badRequest, "The Upgrade header must name websocket.")
        }
        if !head.hasToken("Upgrade", in: "Connection") {
            return HandshakeRejection(.badRequest, "The Connection header must include Upgrade.")
        }
        return nil
    }

    private static func versionRejection(_ head: HTTPRequestHead) -> HandshakeRejection? {
        let versions = head.values("Sec-WebSocket-Version")
        if versions.isEmpty {
            return HandshakeRejection(.badRequest, "Sec-WebSocket-Version is missing.", headers: [("Sec-WebSocket-Version", "13")])
        }
        if versions != ["13"] {
            return HandshakeRejection(
                .upgradeRequired, "Only WebSocket version 13 is supported.", headers: [("Sec-WebSocket-Version", "13")])
        }
        return nil
    }

    private static func key(_ head: HTTPRequestHead) -> Result<String, HandshakeRejection> {
        let keys = head.values("Sec-WebSocket-Key")
        guard keys.count == 1, let key = keys.first, Base64.decode(key)?.count == 16 else {
            return .failure(HandshakeRejection(.badRequest, "Sec-WebSocket-Key must be one base64-encoded 16-byte value."))
        }
        return .success(key)
    }

    private static func bodyRejection(_ head: HTTPRequestHead) -> HandshakeRejection? {
        let lengths = head.values("Content-Length")
        if !head.values("Transfer-Encoding").isEmpty || lengths.contains(where: { $0 != "0" }) {
            return HandshakeRejection(.badRequest, "A WebSocket upgrade request has no body.")
        }
        return nil
    }
}
