/// The outcome of feeding bytes to ``HTTPRequestParser`` or ``HTTPResponseParser``.
public enum HTTPParseResult<Head> {
    /// The head is not complete yet; every byte was taken.
    case needMore
    /// The head is complete. `consumed` counts the bytes of the last chunk
    /// that belong to it: the bytes after it (a client's eager first frame,
    /// say) were not taken and must be handled by the caller.
    case complete(Head, consumed: Int)
    /// The head is malformed (400), too large (431) or of an unsupported version (505).
    case failed(HTTPStatus)
}

extension HTTPParseResult: Sendable where Head: Sendable {}
