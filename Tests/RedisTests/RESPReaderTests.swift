import Testing

@testable import Redis

@Suite struct RESPReaderTests {
    static let cases: [(String, RESPValue)] = [
        ("+OK\r\n", .status("OK")),
        ("-ERR unknown command\r\n", .error("ERR unknown command")),
        (":-42\r\n", .integer(-42)),
        ("$5\r\nhe\r\no\r\n", .bulk(Array("he\r\no".utf8))),
        ("$0\r\n\r\n", .bulk([])),
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("*0\r\n", .array([])),
        ("*3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$2\r\nhi\r\n", .array([.bulk(Array("message".utf8)), .bulk(Array("chan".utf8)), .bulk(Array("hi".utf8))])),
        ("*2\r\n*1\r\n:1\r\n$-1\r\n", .array([.array([.integer(1)]), .null])),
    ]

    static func decode(_ chunks: [[UInt8]]) throws -> [RESPValue] {
        let reader = RESPReader()
        var values: [RESPValue] = []
        for chunk in chunks {
            try chunk.withUnsafeBytes { try reader.feed($0) }
            while let value = try reader.next() { values.append(value) }
        }
        return values
    }

    @Test(arguments: cases.indices)
    func wholeAndByteByByte(_ index: Int) throws {
        let (wire, expected) = Self.cases[index]
        let bytes = Array(wire.utf8)
        #expect(try Self.decode([bytes]) == [expected])
        #expect(try Self.decode(bytes.map { [$0] }) == [expected])
    }

    @Test func pipelinedRepliesComeOutInOrder() throws {
        let wire = Self.cases.map(\.0).joined()
        let bytes = Array(wire.utf8)
        #expect(try Self.decode([bytes]) == Self.cases.map(\.1))
        #expect(try Self.decode(bytes.map { [$0] }) == Self.cases.map(\.1))
    }

    @Test func aProtocolErrorIsFinal() throws {
        let reader = RESPReader()
        try Array("?what\r\n".utf8).withUnsafeBytes { try reader.feed($0) }
        #expect(throws: RESPReader.ProtocolError.self) { try reader.next() }
        #expect(throws: RESPReader.ProtocolError.self) { try Array("+OK\r\n".utf8).withUnsafeBytes { try reader.feed($0) } }
    }

    @Test func anArrayTooLargeToAllocateIsAnError() throws {
        let reader = RESPReader()
        try Array("*2000000\r\n".utf8).withUnsafeBytes { try reader.feed($0) }
        #expect(throws: RESPReader.ProtocolError.self) { try reader.next() }
        #expect(try Self.decode([Array("*3\r\n:1\r\n:2\r\n:3\r\n".utf8)]) == [.array([.integer(1), .integer(2), .integer(3)])])
    }

    @Test func commandsAreArraysOfBulkStrings() {
        #expect(RESPCommand.encode("SET", "k", "") == Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n".utf8))
        #expect(RESPCommand.encode([[0, 13, 10]]) == Array("*1\r\n$3\r\n".utf8) + [0, 13, 10, 13, 10])
    }

    @Test func pushesAreRecognised() {
        #expect(RedisConnection.isPush(.array([.bulk(Array("message".utf8)), .bulk([]), .bulk([])])))
        #expect(!RedisConnection.isPush(.array([.bulk(Array("1".utf8))])))
        #expect(!RedisConnection.isPush(.status("OK")))
    }
}
