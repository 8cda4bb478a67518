import HTTP

/// A request as the server's router sees it.
public struct ServerRequest {
    /// The parsed request line and headers.
    public let head: HTTPRequestHead
    /// The request body, with any chunked coding removed; empty when there is none (always,
    /// for an upgrade). At most `WebSocketConfiguration.http.maxRequestBodyBytes`.
    public let body: [UInt8]
    /// The context of the loop the request arrived on: pass it to the WebSocket you create.
    public let context: WebSocketContext
    /// True when the request came over TLS.
    public var isSecure = false
    /// The subject (RFC 2253) of the client certificate verified during the TLS handshake
    /// (mTLS), or nil.
    public var peerCertificateSubject: String?

    /// A request, as the server builds it; public so that a router can be tested alone.
    public init(head: HTTPRequestHead, body: [UInt8] = [], context: WebSocketContext) {
        self.head = head
        self.body = body
        self.context = context
    }
}
