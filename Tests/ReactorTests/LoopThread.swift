import Dispatch
import Reactor
import Synchronization

/// Runs an EventLoop on a thread of its own for a test, and lets the test run code on it.
final class LoopThread: Sendable {
    let loop: EventLoop
    private let group: EventLoopGroup

    init() throws {
        group = try EventLoopGroup(count: 1)
        loop = group.loops[0]
        try group.start { _ in }
    }

    /// Runs `body` on the loop's thread and returns its result.
    func sync<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) throws -> Result {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Swift.Result<Result, any Error>?>(nil)
        loop.execute {
            let value = Swift.Result { try body() }
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    func stop() {
        group.stop()
        group.wait()
    }
}

/// Polls `condition` until it holds or `seconds` pass.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
    while DispatchTime.now().uptimeNanoseconds < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

import Glibc
