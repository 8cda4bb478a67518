import Testing

@testable import TLS

@Suite struct HandshakeMemoryReleaseTests {
    @Test func theFirstHandshakeStartsTheChecksAndLaterOnesDoNot() {
        var release = HandshakeMemoryRelease()
        let result1 = release.handshakeEnded()
        #expect(result1)
        let result2 = release.handshakeEnded()
        #expect(!result2)
    }

    @Test func memoryIsGivenBackOnceABurstIsOver() {
        var release = HandshakeMemoryRelease()
        _ = release.handshakeEnded()
        _ = release.handshakeEnded()
        // Handshakes ended during the last interval: the burst goes on.
        let result3 = release.check()
        #expect(result3 == .wait)
        // A quiet interval: now.
        let result4 = release.check()
        #expect(result4 == .release)
        release.released()
        // The next handshake starts the checks again; with nothing new they stop.
        let result5 = release.handshakeEnded()
        #expect(result5)
        let result6 = release.check()
        #expect(result6 == .wait)
        let result7 = release.check()
        #expect(result7 == .release)
        release.released()
        let result8 = release.check()
        #expect(result8 == .idle)
    }

    @Test func aLongBurstReleasesEveryBurstLength() {
        var release = HandshakeMemoryRelease()
        for _ in 0..<(HandshakeMemoryRelease.burstLength - 1) { _ = release.handshakeEnded() }
        let result9 = release.check()
        #expect(result9 == .wait)
        _ = release.handshakeEnded()
        let result10 = release.check()
        #expect(result10 == .release)
    }
}
