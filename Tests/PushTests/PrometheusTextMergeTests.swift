import Testing

@_spi(Internals) @testable import Push

@Suite struct PrometheusTextMergeTests {
    static func merge(_ texts: [String], limits: PrometheusTextMerge.Limits = .init(), reserved: Set<String> = []) -> PrometheusTextMerge {
        var merge = PrometheusTextMerge(limits: limits, reserved: reserved)
        for text in texts { merge.add(Array(text.utf8)) }
        return merge
    }

    /// What swift-prometheus writes: counters as integers, gauges as doubles, histograms.
    static let worker = """
        # TYPE pushwave_connections_open gauge
        pushwave_connections_open 10.0
        # TYPE pushwave_messages_received_total counter
        pushwave_messages_received_total 7
        # TYPE pushwave_handshake_failures_total counter
        pushwave_handshake_failures_total{status="400"} 2
        # TYPE latency_seconds histogram
        latency_seconds_bucket{le="0.1"} 1
        latency_seconds_bucket{le="+Inf"} 3
        latency_seconds_sum 0.75
        latency_seconds_count 3

        """

    @Test func countersGaugesAndHistogramsAreSummedPerSeries() {
        let merged = Self.merge([Self.worker, Self.worker, Self.worker])
        #expect(merged.text == """
            # TYPE pushwave_connections_open gauge
            pushwave_connections_open 30.0
            # TYPE pushwave_messages_received_total counter
            pushwave_messages_received_total 21
            # TYPE pushwave_handshake_failures_total counter
            pushwave_handshake_failures_total{status="400"} 6
            # TYPE latency_seconds histogram
            latency_seconds_bucket{le="0.1"} 3
            latency_seconds_bucket{le="+Inf"} 9
            latency_seconds_sum 2.25
            latency_seconds_count 9

            """)
        #expect(merged.skippedLines == 0)
        #expect(merged.textsAdded == 3)
        #expect(merged.value(of: "pushwave_connections_open") == 30)
        #expect(merged.value(of: "pushwave_handshake_failures_total") == nil)
        #expect(merged.value(of: "latency_seconds_count") == 9)
    }

    @Test func seriesOnlySomeTextsHaveAreKeptAndLabelOrderDoesNotMatter() {
        let merged = Self.merge([
            "# TYPE a counter\na{x=\"1\",y=\"2\"} 1\n",
            "# TYPE a counter\na{y=\"2\",x=\"1\"} 2\na{x=\"3\"} 5\n# TYPE b gauge\nb -1.5\n",
        ])
        #expect(merged.text == "# TYPE a counter\na{x=\"1\",y=\"2\"} 3\na{x=\"3\"} 5\n# TYPE b gauge\nb -1.5\n")
    }

    @Test func integersOverflowIntoDoublesAndSpecialValuesSurvive() {
        let merged = Self.merge(["a 9223372036854775807\nb +Inf\nc NaN\nd 1e3\n", "a 1\nb 1\nc 1\nd 2\n"])
        #expect(merged.text == "# TYPE a untyped\na 9.223372036854776e+18\n# TYPE b untyped\nb +Inf\n# TYPE c untyped\nc NaN\n# TYPE d untyped\nd 1002.0\n")
    }

    @Test func escapedLabelValuesAndTimestampsAndComments() {
        let merged = Self.merge([
            "# HELP a some help\n# a free comment\n# TYPE a gauge\na{path=\"x\\\"y\\\\z\\n\"} 1 1700000000000\n",
            "# TYPE a gauge\na{path=\"x\\\"y\\\\z\\n\",} 2\n",
        ])
        #expect(merged.text == "# TYPE a gauge\na{path=\"x\\\"y\\\\z\\n\"} 3\n")
        #expect(merged.skippedLines == 0)
    }

    @Test(arguments: [
        "a", "a ", "1a 1", "a{ 1", "a{x=1} 1", "a{x=\"1} 1", "a{x=\"1\"", "a{x=\"1\" y=\"2\"} 1", "a{=\"1\"} 1",
        "a{x=\"\\t\"} 1", "a{x=\"1\",x=\"2\"} 1", "a 1 2 3", "a 1 x", "a 0x10", "a 1e400", "a inf", "a nan", "a --1",
        "a 1.2.3e", "a\t", "a{x=\"1\"}1", "a 1\r", "# TYPE a", "# TYPE a nonsense", "# TYPE 1a counter",
        "# TYPE a counter extra",
    ])
    func malformedLinesAreSkipped(line: String) {
        let merged = Self.merge(["ok 1\n" + line + "\nok2 2\n"])
        #expect(merged.skippedLines == 1, "\(line)")
        #expect(merged.text == "# TYPE ok untyped\nok 1\n# TYPE ok2 untyped\nok2 2\n", "\(line)")
    }

    @Test func invalidUTF8InALabelValueIsSkipped() {
        var merge = PrometheusTextMerge()
        merge.add(Array("a{x=\"".utf8) + [0xC3] + Array("\"} 1\nb 1\n".utf8))
        #expect(merge.skippedLines == 1)
        #expect(merge.text == "# TYPE b untyped\nb 1\n")
    }

    @Test func aConflictingTypeSkipsThatFamilyOfThatText() {
        let merged = Self.merge(["# TYPE a counter\na 1\n", "# TYPE a gauge\na 2\nb 1\n", "a 4\n"])
        // The second text's TYPE conflicts (skipped), so its `a` is untyped: skipped too;
        // the third text's untyped `a` conflicts the same way.
        #expect(merged.text == "# TYPE a counter\na 1\n# TYPE b untyped\nb 1\n")
        #expect(merged.skippedLines == 3)
    }

    @Test func addReadsOneTextsOwnValue() {
        var merge = PrometheusTextMerge()
        #expect(merge.add(Array(Self.worker.utf8), reading: "pushwave_connections_open") == 10)
        #expect(merge.add(Array("pushwave_connections_open 4\n".utf8), reading: "pushwave_connections_open") == nil)  // untyped: conflicts
        #expect(merge.add(Array(Self.worker.utf8), reading: "pushwave_handshake_failures_total") == nil)  // has labels
        #expect(merge.add(Array("# TYPE pushwave_connections_open gauge\npushwave_connections_open 2.5\n".utf8), reading: "pushwave_connections_open") == 2.5)
        #expect(merge.value(of: "pushwave_connections_open") == 22.5)
    }

    @Test func aSeriesBelongsToOneFamilyOnly() {
        // `h_count` is the histogram's in the first text and untyped in the second: written
        // twice, it would be a repeated series in the exposition.
        let merged = Self.merge(["# TYPE h histogram\nh_count 3\n", "h_count 5\n# TYPE h_count counter\nh_count 1\n"])
        #expect(merged.text == "# TYPE h histogram\nh_count 3\n")
        #expect(merged.skippedLines == 2)
    }

    @Test func aSampleRepeatedWithinOneTextIsSkipped() {
        let merged = Self.merge(["a 1\na 1\n", "a 1\n"])
        #expect(merged.text == "# TYPE a untyped\na 2\n")
        #expect(merged.skippedLines == 1)
    }

    @Test func summaryQuantilesAreLeftOutAndItsSumAndCountKept() {
        let merged = Self.merge([
            "# TYPE s summary\ns{quantile=\"0.5\"} 3\ns_sum 10\ns_count 4\ns_bucket 1\n",
            "# TYPE s summary\ns{quantile=\"0.5\"} 5\ns_sum 1\ns_count 1\n",
        ])
        #expect(merged.text == "# TYPE s summary\ns_sum 11\ns_count 5\n# TYPE s_bucket untyped\ns_bucket 1\n")
    }

    @Test func reservedNamesAndLimits() {
        var limits = PrometheusTextMerge.Limits()
        limits.maxSeries = 2
        limits.maxLineBytes = 20
        let merged = Self.merge(
            ["pushwave_workers 3\na 1\nb 1\nc 1\nd{x=\"a-long-label-value\"} 1\n", "a 1\nc 1\n"], limits: limits,
            reserved: ["pushwave_workers"])
        #expect(merged.text == "# TYPE a untyped\na 2\n# TYPE b untyped\nb 1\n")
        #expect(merged.skippedLines == 4)
    }

    @Test func emptyAndGarbageInputsNeverTrap() {
        var merge = PrometheusTextMerge()
        merge.add([UInt8]())
        merge.add([0, 0xFF, 10, 10, 0x7B, 0x22, 0x5C])
        merge.add(Array("{\n}\n\"\n# TYPE\n#\n".utf8))
        #expect(merge.text == "")
        #expect(merge.textsAdded == 3)
    }
}
