/// When a loop asks the allocator to give back the memory its handshakes freed.
///
/// Measured at 5,000 idle TLS 1.3 connections (ECDSA P-256), the server's RSS was 36.7 KiB
/// per connection after the connection storm and 17.7 KiB once the free pages were given
/// back; OpenSSL itself keeps 14 KiB per established connection (its `SSL` object 7.6 KiB,
/// the two record ciphers 1.9 KiB, the session 0.9 KiB, the rest small). Giving memory back
/// walks the whole heap, so it runs at most once a second: when a burst of handshakes is
/// over, or every ``burstLength`` handshakes while one goes on.
struct HandshakeMemoryRelease {
    static let checkIntervalMilliseconds: Int64 = 1_000
    static let burstLength = 4_096

    enum Decision {
        /// Handshakes are still arriving: check again later.
        case wait
        /// Give the free memory back now.
        case release
        /// Nothing ended since the last release: stop checking until a handshake ends.
        case idle
    }

    private var endedSinceRelease = 0
    private var endedSinceCheck = 0
    private var checking = false

    /// Counts a handshake; true when the caller must start the periodic check.
    mutating func handshakeEnded() -> Bool {
        endedSinceRelease += 1
        endedSinceCheck += 1
        guard !checking else { return false }
        checking = true
        return true
    }

    /// What the periodic check does now.
    mutating func check() -> Decision {
        defer { endedSinceCheck = 0 }
        if endedSinceRelease == 0 {
            checking = false
            return .idle
        }
        let burstOver = endedSinceCheck == 0
        return burstOver || endedSinceRelease >= Self.burstLength ? .release : .wait
    }

    /// After a release: the next handshake that ends starts the checks again.
    mutating func released() {
        endedSinceRelease = 0
        checking = false
    }
}
