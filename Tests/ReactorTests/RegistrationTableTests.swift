import CEpollShim
import Glibc
import Testing
@testable import Reactor

/// The loop finds what an event is for in a table indexed by slot, not by descriptor number:
/// descriptor numbers are the process's, so with several loops a table by number would give
/// each loop a slot for every descriptor of the process.
///
/// The loops here never run: each test deregisters what it registered, since a registered
/// object and its loop hold each other until the loop shuts down.
@Suite struct RegistrationTableTests {
    final class Counter: Selectable, @unchecked Sendable {
        var events = 0
        override func handleEvents(_ events: IOEvents) { self.events += 1 }
    }

    private static func makeEventFD() throws -> Int32 {
        let fd = pw_eventfd()
        guard fd >= 0 else { throw SystemError("eventfd") }
        return fd
    }

    @Test func twoLoopsEachKeepASlotPerRegistrationOfTheirOwn() throws {
        let first = try EventLoop()
        let second = try EventLoop()
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        var registered: [Counter] = []
        defer { registered.forEach { $0.loop.deregister($0) } }
        for index in 0..<400 {
            let fd = try Self.makeEventFD()
            fds.append(fd)
            let loop = index % 2 == 0 ? first : second
            let counter = Counter(loop: loop)
            try loop.register(counter, fd: fd, events: .readable)
            registered.append(counter)
        }
        // Descriptor numbers run past 400, each loop has 200 registrations: 200 slots each.
        #expect(fds.max().map { $0 >= 400 } == true)
        #expect(first.registrationTableSize == 200)
        #expect(second.registrationTableSize == 200)
        // Slots given up are used again.
        for counter in registered where counter.loop === first { first.deregister(counter) }
        for _ in 0..<150 {
            let fd = try Self.makeEventFD()
            fds.append(fd)
            let counter = Counter(loop: first)
            try first.register(counter, fd: fd, events: .readable)
            registered.append(counter)
        }
        #expect(first.registrationTableSize == 200)
    }

    @Test func anEventReachesTheObjectNowInAReusedSlot() throws {
        let loop = try EventLoop()
        let oldFD = try Self.makeEventFD()
        let newFD = try Self.makeEventFD()
        defer { close(oldFD); close(newFD) }
        let old = Counter(loop: loop)
        try loop.register(old, fd: oldFD, events: .readable)
        let slot = old.slot
        loop.deregister(old)
        let new = Counter(loop: loop)
        try loop.register(new, fd: newFD, events: .readable)
        defer { loop.deregister(new) }
        #expect(new.slot == slot)
        var one: UInt64 = 1
        #expect(write(oldFD, &one, 8) == 8)
        #expect(write(newFD, &one, 8) == 8)
        loop.runOnce()
        #expect(new.events == 1)
        #expect(old.events == 0)
    }
}
