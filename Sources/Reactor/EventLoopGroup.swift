#if canImport(Glibc)
import Glibc
#endif

/// N independent loops, each on a thread of its own: the way to use several cores. Loops
/// share nothing; give each its own `SO_REUSEPORT` listener on the same port and the kernel
/// spreads connections among them. Reach another loop with its `execute(_:)`.
public final class EventLoopGroup: @unchecked Sendable {
    /// The loops, one per thread.
    public let loops: [EventLoop]
    private var threads: [pthread_t] = []

    /// Creates `count` loops with the same options; no thread starts until ``start(_:)``.
    public init(count: Int, options: EventLoop.Options = EventLoop.Options()) throws {
        precondition(count > 0, "an EventLoopGroup needs at least one loop")
        loops = try (0..<count).map { _ in try EventLoop(options: options) }
    }

    /// Starts one thread per loop. `setup` runs on each loop's own thread, before the loop
    /// starts waiting: the place to create its listeners.
    public func start(_ setup: @escaping @Sendable (EventLoop) -> Void) throws {
        precondition(threads.isEmpty, "EventLoopGroup started twice")
        for loop in loops {
            let body = ThreadBody {
                setup(loop)
                loop.run()
            }
            var thread = pthread_t()
            let result = pthread_create(&thread, nil, { context in
                let body = Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue()
                body.run()
                return nil
            }, Unmanaged.passRetained(body).toOpaque())
            guard result == 0 else { throw SystemError("pthread_create", code: result) }
            threads.append(thread)
        }
    }

    /// Asks every loop to stop; safe from any thread.
    public func stop() {
        for loop in loops { loop.stop() }
    }

    /// Blocks until every loop's thread has finished.
    public func wait() {
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }
}

/// A closure boxed to cross `pthread_create`'s `void *` argument.
private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
