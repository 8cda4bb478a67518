import ArgumentParser
import WebSocket

/// permessage-deflate (RFC 7692) as `pushwave` offers it.
///
/// The default suits a server with many connections that broadcasts: no context takeover in
/// either direction, so an idle connection holds no zlib memory, each loop shares one
/// compressor per window size and one decompressor, and a topic publish is compressed once
/// per loop for all its subscribers. zlib level 1 by default: on JSON-like messages it
/// costs a fraction of level 6's CPU for a few percent more bytes (measured in the README).
struct DeflateOptions: ParsableArguments {
    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Accept permessage-deflate (RFC 7692) offers; on by default.",
            discussion: """
                Compression runs without context takeover in both directions, so an idle \
                connection holds no zlib memory, the loop's compressor and decompressor are \
                shared, and a publish is compressed once per loop for all its subscribers. \
                Messages under --deflate-threshold go out plain and cost nothing extra. \
                Turn it off when CPU matters more than bandwidth.
                """))
    var deflate = true

    @Option(help: "Messages shorter than this many bytes are sent uncompressed.")
    var deflateThreshold = 128

    @Option(help: "zlib compression level, 1 (fastest) to 9 (smallest).")
    var deflateLevel = 1

    @Flag(help: "Keep compression contexts between messages where the client allows it: better ratios, but zlib memory per connection (up to ~300 KiB at 15 window bits) and no shared compression for topics.")
    var deflateContextTakeover = false

    @Option(help: "Largest LZ77 window of the server's compressor, as a power of two (8-15); with --deflate-context-takeover it sets the memory per connection.")
    var deflateWindowBits = 15

    @Option(help: "zlib memLevel of the server's compressor (1-9): memory for speed and ratio.")
    var deflateMemoryLevel = 8

    func validate() throws {
        guard deflateThreshold >= 0 else { throw ValidationError("--deflate-threshold must not be negative") }
        guard (1...9).contains(deflateLevel) else { throw ValidationError("--deflate-level must be between 1 and 9") }
        guard DeflateConfiguration.windowBitsRange.contains(deflateWindowBits) else {
            throw ValidationError("--deflate-window-bits must be between 8 and 15")
        }
        guard (1...9).contains(deflateMemoryLevel) else { throw ValidationError("--deflate-memory-level must be between 1 and 9") }
    }

    var configuration: DeflateConfiguration {
        DeflateConfiguration(
            isEnabled: deflate, thresholdBytes: deflateThreshold,
            serverNoContextTakeover: !deflateContextTakeover, clientNoContextTakeover: !deflateContextTakeover,
            serverMaxWindowBits: deflateWindowBits, memoryLevel: deflateMemoryLevel, compressionLevel: deflateLevel)
    }
}
