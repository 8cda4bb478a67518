import CHiredisShim

/// Encodes a command as RESP (an array of bulk strings), as Redis expects it.
public enum RESPCommand {
    /// The bytes of `arguments` (the command name first) on the wire.
    public static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        // Every argument's bytes must stay valid while hiredis reads them: nest the borrows.
        var pointers: [UnsafePointer<CChar>?] = []
        let lengths = arguments.map(\.count)
        return withPointers(arguments[...], into: &pointers) { argv in
            var command: UnsafeMutablePointer<CChar>?
            let length = pw_resp_format_command(&command, Int32(argv.count), argv, lengths)
            defer { pw_resp_command_free(command) }
            guard length > 0, let command else { return fallback(arguments) }
            return Array(UnsafeRawBufferPointer(start: command, count: Int(length)))
        }
    }

    public static func encode(_ arguments: String...) -> [UInt8] {
        encode(arguments.map { Array($0.utf8) })
    }

    private static func withPointers<Result>(
        _ rest: ArraySlice<[UInt8]>, into pointers: inout [UnsafePointer<CChar>?], _ body: ([UnsafePointer<CChar>?]) -> Result
    ) -> Result {
        guard let first = rest.first else { return body(pointers) }
        return first.withUnsafeBytes { bytes in
            // An empty argument has no storage; hiredis reads no byte of it, any pointer does.
            pointers.append(bytes.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer(bitPattern: 1))
            return withPointers(rest.dropFirst(), into: &pointers, body)
        }
    }

    /// The same encoding in Swift, for when hiredis cannot allocate.
    private static func fallback(_ arguments: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            out += Array("$\(argument.count)\r\n".utf8) + argument + [13, 10]
        }
        return out
    }
}
