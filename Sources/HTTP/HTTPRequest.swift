/// A complete HTTP request: its head and its body (empty when it has none).
public struct HTTPRequest: Sendable {
    /// The request line and header fields.
    public var head: HTTPRequestHead
    /// The body's bytes, with any transfer coding removed.
    public var body: [UInt8]

    /// A request of `head` and `body`.
    public init(head: HTTPRequestHead, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }
}
