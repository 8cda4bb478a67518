import COpenSSLShim
import Reactor

/// What the TLS connections of one loop share: the ciphertext input buffer and the record
/// output buffer (with the one BIO over them), and the handshake budget of the current
/// iteration. Confined to its loop, like the connections.
final class TLSLoopResources {
    /// Ciphertext read per `read`: decrypted straight into the loop's receive buffer.
    static let inputCapacity = 256 * 1024
    /// Records built per send; a corked iteration's output becomes one `send` of them.
    static let outputCapacity = 256 * 1024 + 32 * 1024

    let io: OpaquePointer
    /// Handshake steps run in this iteration, across the loop's connections.
    private var handshakeSteps = 0
    /// The loop owns these resources (`loopLocal`), so it outlives them.
    private unowned let loop: EventLoop
    private var memoryRelease = HandshakeMemoryRelease()

    private init(loop: EventLoop) {
        guard let io = pw_tls_io_new(Self.inputCapacity, Self.outputCapacity) else {
            fatalError("out of memory for the loop's TLS buffers")
        }
        self.io = io
        self.loop = loop
        // The flush hook runs once per iteration: the budget starts afresh each time.
        loop.addFlushHook { [weak self] in self?.handshakeSteps = 0 }
    }

    deinit {
        pw_tls_io_free(io)
    }

    /// The resources of `loop`, made on first use. Call on the loop's thread.
    static func on(_ loop: EventLoop) -> TLSLoopResources {
        loop.loopLocal(TLSLoopResources.self) { TLSLoopResources(loop: loop) }
    }

    /// A handshake finished (or failed): its temporary memory is free but still resident.
    /// The allocator is asked to give it back once the burst is over (no handshake for a
    /// second), or every ``HandshakeMemoryRelease/burstLength`` handshakes in a long one.
    func handshakeEnded() {
        if memoryRelease.handshakeEnded() { scheduleMemoryCheck() }
    }

    private func scheduleMemoryCheck() {
        _ = loop.schedule(afterMilliseconds: HandshakeMemoryRelease.checkIntervalMilliseconds) { [weak self] in
            guard let self else { return }
            switch memoryRelease.check() {
            case .wait: scheduleMemoryCheck()
            case .release:
                pw_release_free_memory()
                memoryRelease.released()
            case .idle: break
            }
        }
    }

    /// Takes one handshake step from this iteration's budget; false when it is spent.
    func takeHandshakeStep(limit: Int) -> Bool {
        guard handshakeSteps < limit else { return false }
        handshakeSteps += 1
        return true
    }
}
