import Testing

@_spi(Internals) @testable import WebSocket

/// Whatever the reads look like, the parser must deliver the same frames:
/// every scenario is fed whole, cut in two at every byte, and one byte at a time.
@Suite struct FrameSplitTests {
    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var role: Role
        var bytes: [UInt8]
        var events: [FrameEvent]
        var outcome: ParseOutcome = .needMoreBytes
        var limits = FrameLimits()

        var testDescription: String { "\(name) (\(role))" }
    }

    static func scenarios(for role: Role) -> [Scenario] {
        func f(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
            wireFrame(opcode, payload, fin: fin, to: role)
        }
        func t(_ opcode: Opcode, _ text: String, fin: Bool = true) -> [UInt8] {
            wireFrame(opcode, text, fin: fin, to: role)
        }
        let euro = Array("€".utf8), smiley = Array("😀".utf8)
        let bytes125 = (0..<125).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        let bytes126 = (0..<126).map { UInt8(truncatingIfNeeded: $0 &* 5) }
        return [
            Scenario(name: "text", role: role, bytes: t(.text, "Hello, world"), events: [.text("Hello, world")]),
            Scenario(name: "binary of 125", role: role, bytes: f(.binary, bytes125), events: [.message(.binary, bytes125)]),
            Scenario(name: "binary of 126", role: role, bytes: f(.binary, bytes126), events: [.message(.binary, bytes126)]),
            Scenario(name: "ping of 125", role: role, bytes: f(.ping, bytes125), events: [.ping(bytes125)]),
            Scenario(
                name: "three frames", role: role, bytes: t(.text, "a") + f(.ping, [1]) + f(.binary, [2, 3]),
                events: [.text("a"), .ping([1]), .message(.binary, [2, 3])]),
            Scenario(
                name: "fragmented text with interleaved control frames", role: role,
                bytes: t(.text, "Hel", fin: false) + f(.ping, [9, 9]) + t(.continuation, "lo", fin: false)
                    + f(.pong, bytes125) + t(.continuation, ", you") + t(.text, "next"),
                events: [.ping([9, 9]), .pong(bytes125), .text("Hello, you"), .text("next")]),
            Scenario(
                name: "fragmented binary with empty fragments", role: role,
                bytes: f(.binary, [], fin: false) + f(.continuation, [1], fin: false) + f(.continuation, [], fin: false)
                    + f(.continuation, [2]),
                events: [.message(.binary, [1, 2])]),
            Scenario(
                name: "characters split across fragments", role: role,
                bytes: f(.text, [euro[0]], fin: false) + f(.continuation, [euro[1], euro[2], smiley[0]], fin: false)
                    + f(.ping, []) + f(.continuation, [smiley[1]], fin: false) + f(.continuation, [smiley[2], smiley[3]]),
                events: [.ping([]), .message(.text, euro + smiley)]),
            Scenario(
                name: "close with code and reason", role: role, bytes: f(.close, [0x03, 0xE9] + Array("bye é".utf8)),
                events: [.close(.goingAway, Array("bye é".utf8))]),
            Scenario(
                name: "invalid UTF-8 in a second fragment", role: role,
                bytes: t(.text, "ok", fin: false) + f(.continuation, [0x61, 0xED, 0xA0, 0x80], fin: false) + t(.continuation, "end"),
                events: [], outcome: .failed(.invalidUTF8)),
            Scenario(
                name: "a message cut short by a sequence", role: role, bytes: f(.text, [0x61, 0xE2, 0x82]),
                events: [], outcome: .failed(.invalidUTF8)),
            Scenario(
                name: "invalid close code after a message", role: role, bytes: t(.text, "x") + f(.close, [0x03, 0xEE]),
                events: [.text("x")], outcome: .failed(.invalidCloseCode)),
            Scenario(
                name: "frame over the limit after a message", role: role, bytes: t(.text, "x") + f(.binary, bytes126),
                events: [.text("x")], outcome: .failed(.frameTooBig), limits: FrameLimits(maxFrameSize: 125)),
        ]
    }

    static let allScenarios = scenarios(for: .server) + scenarios(for: .client)

    @Test(arguments: allScenarios)
    func wholeInput(_ scenario: Scenario) {
        let run = parseFrames(scenario.bytes, role: scenario.role, limits: scenario.limits)
        #expect(run.events == scenario.events)
        #expect(run.outcome == scenario.outcome)
        #expect(!run.isHoldingBytes)
        #expect(run.bufferCapacity == 0)
    }

    @Test(arguments: allScenarios)
    func cutInTwoAtEveryByte(_ scenario: Scenario) {
        for point in 0...scenario.bytes.count {
            let run = parseFrames(cutInTwo(scenario.bytes, at: point), role: scenario.role, limits: scenario.limits)
            #expect(run.events == scenario.events, "cut at \(point)")
            #expect(run.outcome == scenario.outcome, "cut at \(point)")
            #expect(run.bufferCapacity == 0, "cut at \(point)")
        }
    }

    @Test(arguments: allScenarios)
    func oneByteAtATime(_ scenario: Scenario) {
        let run = parseFrames(oneByteChunks(scenario.bytes), role: scenario.role, limits: scenario.limits)
        #expect(run.events == scenario.events)
        #expect(run.outcome == scenario.outcome)
        #expect(run.bufferCapacity == 0)
    }

    @Test(arguments: [Role.server, .client])
    func cutInThreeAtEveryPairOfBytes(role: Role) {
        let bytes = wireFrame(.text, "ab", fin: false, to: role) + wireFrame(.ping, [5], to: role) + wireFrame(.continuation, "cd", to: role)
        for first in 0...bytes.count {
            for second in first...bytes.count {
                let chunks = [Array(bytes[..<first]), Array(bytes[first..<second]), Array(bytes[second...])]
                let run = parseFrames(chunks, role: role)
                #expect(run.events == [.ping([5]), .text("abcd")], "cuts at \(first), \(second)")
                #expect(run.outcome == .needMoreBytes)
            }
        }
    }

    /// Frames of 65535 and 65536 bytes: every cut within the headers and
    /// near the ends, and every 251st byte elsewhere.
    @Test(arguments: [Role.server, .client], [65535, 65536])
    func largeFramesCutAnywhere(role: Role, length: Int) {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let bytes = wireFrame(.binary, payload, to: role) + wireFrame(.text, "after", to: role)
        let points = Array(0...20) + Array(stride(from: 21, to: bytes.count - 40, by: 251)) + Array((bytes.count - 40)...bytes.count)
        for point in points {
            let run = parseFrames(cutInTwo(bytes, at: point), role: role)
            #expect(run.events == [.message(.binary, payload), .text("after")], "cut at \(point)")
            #expect(run.outcome == .needMoreBytes)
            #expect(run.bufferCapacity == 0)
        }
        let slow = parseFrames(oneByteChunks(bytes), role: role)
        #expect(slow.events == [.message(.binary, payload), .text("after")])
    }
}
