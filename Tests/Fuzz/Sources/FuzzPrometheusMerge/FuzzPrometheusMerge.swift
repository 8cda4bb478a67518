import FuzzSupport
@_spi(Internals) import Push

/// The merge of the workers' Prometheus texts on untrusted bytes.
///
/// The input is up to 8 texts separated by zero bytes (a worker's file is the text of one
/// other process). They are merged (with a series limit of 5 when the input's length is a
/// multiple of 5, and `reserved` named), which must not crash and must skip no more lines
/// than there are; a text's own value of `a`, when read, must be in the sums. The exposition
/// written out must be well-formed and lossless: merged again on its own (with room for the
/// longer lines it may write), no line is skipped, every sample line comes back the same,
/// and no series is written twice.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    var limits = PrometheusTextMerge.Limits()
    if count % 5 == 0 { limits.maxSeries = 5 }
    var merge = PrometheusTextMerge(limits: limits, reserved: ["reserved"])
    var lines = 0
    for text in input.split(separator: 0, maxSplits: 7, omittingEmptySubsequences: false) {
        lines += text.split(separator: UInt8(ascii: "\n")).count
        let read = withExactCopy(of: UnsafeRawBufferPointer(rebasing: text)) { merge.add(UnsafeRawBufferPointer($0), reading: "a") }
        fuzzCheck(read == nil || merge.value(of: "a") != nil, "read a value of a that the merge does not have")
    }
    fuzzCheck(merge.skippedLines <= lines, "skipped \(merge.skippedLines) of \(lines) lines")

    let written = merge.text
    var longer = PrometheusTextMerge.Limits()
    longer.maxLineBytes = 4 * limits.maxLineBytes
    var again = PrometheusTextMerge(limits: longer)
    again.add(Array(written.utf8))
    fuzzCheck(again.skippedLines == 0, "the exposition has \(again.skippedLines) malformed lines:\n\(written)")
    let samples = samplesOf(written)
    let keys = samples.map { $0[..<($0.lastIndex(of: " ") ?? $0.endIndex)] }
    fuzzCheck(Set(keys).count == samples.count, "a series written twice:\n\(written)")
    fuzzCheck(samplesOf(again.text).sorted() == samples.sorted(), "written again differently:\n\(written)\n--\n\(again.text)")
    fuzzCheck(!keys.contains { $0 == "reserved" || $0.hasPrefix("reserved{") }, "a reserved family was kept")
    return 0
}

/// The sample lines of an exposition.
func samplesOf(_ text: String) -> [Substring] {
    text.split(separator: "\n").filter { !$0.hasPrefix("#") }
}

/// The program's main: SwiftPM links `main` to `<module>_main` (see CLibFuzzerEntry.h).
@_cdecl("FuzzPrometheusMerge_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv)
}
