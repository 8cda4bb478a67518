import HTTP

/// Case tests on parse results, for the HTTP and handshake tests.
extension HTTPParseResult {
    public var isNeedMore: Bool {
        if case .needMore = self { return true }
        return false
    }

    public var isComplete: Bool {
        if case .complete = self { return true }
        return false
    }

    public var failedStatus: HTTPStatus? {
        if case .failed(let status) = self { return status }
        return nil
    }
}
