/// Calls `body` with a copy of `bytes` in an allocation of exactly that size, freed
/// afterwards: AddressSanitizer then reports any read past the chunk, and any use
/// of it after the call. An empty chunk is passed with a base address when
/// `emptyHasBase` is true, without one otherwise.
public func withExactCopy<Result>(
    of bytes: UnsafeRawBufferPointer, emptyHasBase: Bool = true,
    _ body: (UnsafeMutableRawBufferPointer) -> Result
) -> Result {
    if bytes.isEmpty && !emptyHasBase {
        return body(UnsafeMutableRawBufferPointer(start: nil, count: 0))
    }
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { copy.deallocate() }
    if let source = bytes.baseAddress, let destination = copy.baseAddress {
        destination.copyMemory(from: source, byteCount: bytes.count)
    }
    return body(copy)
}

/// Reports a broken invariant and crashes, so that libFuzzer saves the input.
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() {
        fatalError("fuzz invariant broken: \(message())", file: file, line: line)
    }
}
