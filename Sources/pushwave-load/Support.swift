import Reactor

#if canImport(Glibc)
import Glibc
#endif

// MARK: Time

/// Sleeps until the monotonic clock reaches `deadline` (nanoseconds).
func sleep(untilNanoseconds deadline: Int64) {
    var target = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
}

func sleep(milliseconds: Int64) {
    sleep(untilNanoseconds: MonotonicClock.nanoseconds() + milliseconds * 1_000_000)
}

/// CPU time (user and system) this process has used so far, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Nanoseconds from seconds given on the command line.
func nanoseconds(seconds: Double) -> Int64 {
    Int64((seconds * 1e9).rounded())
}

// MARK: Threads

/// Starts a thread running `body`.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBox(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { context in
        let box = Unmanaged<ThreadBox>.fromOpaque(context!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    precondition(result == 0, "pthread_create failed (\(result))")
    return thread
}

private final class ThreadBox: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

// MARK: Process limits

/// Asks for timers accurate to the microsecond instead of the default 50 µs slack (the pacer
/// sleeps until each message is due). Threads inherit it, so call it before starting any.
func reduceTimerSlack() {
    let fd = open("/proc/self/timerslack_ns", O_WRONLY)
    guard fd >= 0 else { return }
    _ = write(fd, "1000", 4)
    close(fd)
}

/// Online processors: the default number of event loops.
func processorCount() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

// MARK: Output

/// Writes a line to standard error, unbuffered.
func printError(_ text: String) {
    writeLine(text, to: 2)
}

/// Writes a line to standard output, unbuffered (nothing is left in a buffer at exit, and
/// the parent of a child process sees each line as soon as it is written).
func printOutput(_ text: String) {
    writeLine(text, to: 1)
}

private func writeLine(_ text: String, to descriptor: Int32) {
    var line = text
    line.append("\n")
    line.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}

/// `value` with exactly `digits` decimals (no Foundation `String(format:)` needed).
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return String(value) }
    let whole = UInt64(scaled)
    let integer = whole / UInt64(scale)
    let fraction = whole % UInt64(scale)
    var text = value < 0 && whole != 0 ? "-" : ""
    text += String(integer)
    if digits > 0 {
        let fractionText = String(fraction)
        text += "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }
    return text
}

/// A count with thousands separators, for the human-readable report.
func grouped(_ value: Int) -> String {
    let digits = String(abs(value))
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
        result.append(character)
    }
    return value < 0 ? "-" + result : result
}

/// Bytes per second in B/s, KB/s, MB/s or GB/s (decimal units).
func byteRate(_ bytesPerSecond: Double) -> String {
    let units = ["B/s", "KB/s", "MB/s", "GB/s"]
    var value = bytesPerSecond
    var unit = 0
    while value >= 1000, unit < units.count - 1 {
        value /= 1000
        unit += 1
    }
    return fixed(value, unit == 0 ? 0 : 2) + " " + units[unit]
}

// MARK: Payload codec

/// Lower-case hexadecimal, 8 digits per 64-bit word, computed without branches or tables:
/// payloads must be ASCII (valid UTF-8 for text messages), and encoding runs twice per
/// message (once to send, once to check the echo).
enum Hex {
    /// The 8 hex digits of `value` as they are laid out in memory (most significant digit at
    /// the lowest address), packed in a word to store with `storeBytes`.
    @inline(__always)
    static func digits(_ value: UInt32) -> UInt64 {
        var spread = UInt64(value)
        spread = ((spread & 0xFFFF_0000) << 16) | (spread & 0xFFFF)
        spread = ((spread & 0x0000_FF00_0000_FF00) << 8) | (spread & 0x0000_00FF_0000_00FF)
        spread = ((spread & 0x00F0_00F0_00F0_00F0) << 4) | (spread & 0x000F_000F_000F_000F)
        // Each byte now holds one nibble, least significant first; nibbles above 9 get the
        // extra distance from '9' + 1 to 'a'.
        let letters = ((spread &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
        let ascii = spread &+ 0x3030_3030_3030_3030 &+ letters &* 39
        return UInt64(littleEndian: ascii.byteSwapped)
    }

    /// The value of 8 hex digits as laid out in memory (the inverse of `digits`). Characters
    /// that are not lower-case hex give some value; callers check by encoding it again.
    @inline(__always)
    static func value(_ word: UInt64) -> UInt32 {
        var nibbles = UInt64(littleEndian: word).byteSwapped
        nibbles = (nibbles & 0x0F0F_0F0F_0F0F_0F0F) &+ ((nibbles >> 6) & 0x0101_0101_0101_0101) &* 9
        nibbles = (nibbles | (nibbles >> 4)) & 0x00FF_00FF_00FF_00FF
        nibbles = (nibbles | (nibbles >> 8)) & 0x0000_FFFF_0000_FFFF
        nibbles = (nibbles | (nibbles >> 16)) & 0x0000_0000_FFFF_FFFF
        return UInt32(truncatingIfNeeded: nibbles)
    }

    /// Writes the 16 hex digits of `value` at `destination`.
    @inline(__always)
    static func store(_ value: UInt64, at destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: digits(UInt32(truncatingIfNeeded: value >> 32)), as: UInt64.self)
        destination.storeBytes(of: digits(UInt32(truncatingIfNeeded: value)), toByteOffset: 8, as: UInt64.self)
    }

    /// Reads 16 hex digits at `source`; nil when they are not exactly what `store` writes.
    @inline(__always)
    static func load(from source: UnsafeRawPointer) -> UInt64? {
        let high = source.loadUnaligned(as: UInt64.self)
        let low = source.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let value = UInt64(Hex.value(high)) << 32 | UInt64(Hex.value(low))
        guard digits(UInt32(truncatingIfNeeded: value >> 32)) == high, digits(UInt32(truncatingIfNeeded: value)) == low else {
            return nil
        }
        return value
    }

    /// Whether the `count` (at most 16) bytes at `bytes` are the last `count` hex digits of `value`.
    @inline(__always)
    static func matches(_ value: UInt64, _ bytes: UnsafeRawPointer, count: Int) -> Bool {
        if count == 16 {
            return bytes.loadUnaligned(as: UInt64.self) == digits(UInt32(truncatingIfNeeded: value >> 32))
                && bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == digits(UInt32(truncatingIfNeeded: value))
        }
        var expected: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &expected) { buffer in
            store(value, at: buffer.baseAddress!)
            return memcmp(bytes, buffer.baseAddress! + (16 - count), count) == 0
        }
    }

    /// Writes the last `count` (at most 16) hex digits of `value` at `destination`.
    @inline(__always)
    static func store(_ value: UInt64, at destination: UnsafeMutableRawPointer, count: Int) {
        if count == 16 {
            store(value, at: destination)
            return
        }
        var digits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            store(value, at: buffer.baseAddress!)
            destination.copyMemory(from: buffer.baseAddress! + (16 - count), byteCount: count)
        }
    }
}

/// The filler after a payload's header: a deterministic ASCII pattern, the same for every
/// message, so that checking it is one `memcmp`.
func fillPattern(_ buffer: UnsafeMutableRawBufferPointer, from start: Int, style: PayloadStyle = .pattern) {
    switch style {
    case .pattern:
        for index in start..<buffer.count {
            buffer[index] = UInt8(ascii: "a") + UInt8(index % 26)
        }
    case .json:
        let text = PayloadStyle.jsonText(count: buffer.count - start)
        for (offset, byte) in text.enumerated() { buffer[start + offset] = byte }
    }
}

/// What the bytes after a message's sequence number look like: how well it compresses.
enum PayloadStyle: String, CaseIterable, Sendable {
    /// `abc…z` repeated: compresses to almost nothing.
    case pattern
    /// JSON records with varied numbers and names, as a feed or chat sends: compresses about
    /// as real JSON does (3–5× with zlib).
    case json

    /// `count` ASCII bytes of JSON-like records, the same for every run (a fixed seed).
    static func jsonText(count: Int) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(count + 160)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: UInt64) -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (seed >> 33) % bound
        }
        let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
        let tags = ["news", "sports", "weather", "markets", "tech", "music"]
        while text.count < count {
            let record = "{\"id\":\(next(1_000_000)),\"user\":\"\(names[Int(next(8))])\(next(100))\",\"price\":\(next(10_000)).\(next(100)),"
                + "\"tag\":\"\(tags[Int(next(6))])\",\"ok\":\(next(2) == 0 ? "true" : "false")},"
            text += record.utf8
        }
        return Array(text.prefix(count))
    }
}

// MARK: In-flight timestamps

/// A FIFO of send timestamps, one per message in flight on a connection (echoes come back
/// in order). Sized once for the pipeline depth; it grows (rarely) only in open-loop mode.
struct TimestampRing {
    private var storage: UnsafeMutablePointer<Int64>
    private var capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        var size = 4
        while size < capacity { size <<= 1 }
        self.capacity = size
        storage = .allocate(capacity: size)
    }

    @inline(__always)
    mutating func push(_ value: Int64) {
        if count == capacity { grow() }
        storage[(head &+ count) & (capacity &- 1)] = value
        count &+= 1
    }

    /// The oldest timestamp; call only when `count > 0`.
    @inline(__always)
    mutating func pop() -> Int64 {
        let value = storage[head]
        head = (head &+ 1) & (capacity &- 1)
        count &-= 1
        return value
    }

    mutating func removeAll() {
        head = 0
        count = 0
    }

    private mutating func grow() {
        let larger = UnsafeMutablePointer<Int64>.allocate(capacity: capacity * 2)
        for index in 0..<count {
            larger[index] = storage[(head + index) & (capacity - 1)]
        }
        storage.deallocate()
        storage = larger
        capacity *= 2
        head = 0
    }

    func deallocate() {
        storage.deallocate()
    }
}

// MARK: Secrets

/// The first line of a small file holding a secret (a token, a key), without surrounding
/// white space; read here so that the secret never has to be on the command line.
func readSecretFile(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else {
        throw PlanError("cannot read \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if count == 0 { break }
        bytes += chunk[0..<count]
        guard bytes.count <= 64 * 1024 else { throw PlanError("\(path) is larger than 64 KiB") }
    }
    let text = String(decoding: bytes, as: UTF8.self)
    let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).first.map(String.init) ?? ""
    return line.trimmingCharacters(in: [" ", "\t", "\r"])
}

extension String {
    /// The string without the given characters at either end.
    func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
