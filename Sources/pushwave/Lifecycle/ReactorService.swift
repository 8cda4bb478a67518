import Logging
import Reactor
import ServiceLifecycle

/// `--raw-echo`'s loops as a service: they run until the group shuts down, then stop at
/// once. Raw echo has no protocol to say goodbye in, so there is nothing to drain.
struct ReactorService: Service {
    let group: EventLoopGroup
    let logger: Logger

    func run() async throws {
        try group.start { _ in }
        try? await gracefulShutdown()
        group.stop()
        group.wait()
        logger.info("stopped")
    }
}
