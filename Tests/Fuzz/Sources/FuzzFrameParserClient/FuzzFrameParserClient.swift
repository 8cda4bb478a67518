import FuzzSupport
@_spi(Internals) import WebSocket

/// The frame parser as the client: see `FrameParserFuzz` for the input format and the checks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FrameParserFuzz.run(role: .client, start, count)
    return 0
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzFrameParserClient_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
