import Dispatch
import Glibc
import Synchronization

/// A TCP proxy between a client and a server for tests, which can cut every connection at
/// once with a reset (as a dropped mobile connection looks to both ends) and refuse new ones
/// for a while. Blocking sockets, one thread per connection pair.
final class CuttingProxy: Sendable {
    let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    /// Both sockets of every live pair.
    private let pairs = Mutex<[(Int32, Int32)]>([])
    private let refusing = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// Connections accepted so far: each reconnect of a client adds one.
    let accepted = Atomic<Int>(0)

    init(upstreamPort: Int) {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 128)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        DispatchQueue(label: "proxy.accept").async { [self] in acceptLoop() }
    }

    /// Resets every connection through the proxy.
    func cut() {
        // Under the lock: a pair is listed only while its sockets are open (see `pump`), so
        // no descriptor number reused by someone else is touched.
        pairs.withLock { pairs in
            for (a, b) in pairs {
                Self.reset(a)
                Self.reset(b)
            }
        }
    }

    /// While true, new connections are reset as soon as they are accepted.
    func refuse(_ value: Bool) { refusing.store(value, ordering: .relaxed) }

    /// Stops accepting and resets every connection; a second call does nothing.
    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        cut()
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { if stopped.load(ordering: .relaxed) { break } else { continue } }
            accepted.add(1, ordering: .relaxed)
            guard !refusing.load(ordering: .relaxed), let server = Self.connectUpstream(upstreamPort) else {
                Self.reset(client)
                close(client)
                continue
            }
            pairs.withLock { $0.append((client, server)) }
            DispatchQueue(label: "proxy.pump").async { [self] in pump(client, server) }
        }
        close(listener)
    }

    /// Copies both ways until either side ends, then closes both.
    private func pump(_ a: Int32, _ b: Int32) {
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65536)
        loop: while poll(&fds, 2, 1000) >= 0 {
            for index in 0..<2 where fds[index].revents != 0 {
                let count = read(fds[index].fd, &buffer, buffer.count)
                guard count > 0, Self.writeAll(fds[1 - index].fd, buffer, count) else { break loop }
            }
        }
        pairs.withLock { pairs in
            pairs.removeAll { $0.0 == a }
            close(a)
            close(b)
        }
    }

    private static func writeAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var written = 0
        while written < count {
            // MSG_NOSIGNAL: a peer that was reset must end the pump, not the test process (SIGPIPE).
            let result = buffer.withUnsafeBytes { send(fd, $0.baseAddress.unsafelyUnwrapped + written, count - written, Int32(MSG_NOSIGNAL)) }
            guard result > 0 else { return false }
            written += result
        }
        return true
    }

    /// SO_LINGER 0 then shutdown: the peer gets an RST, and our pump thread wakes up.
    private static func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    private static func connectUpstream(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard result == 0 else { close(fd); return nil }
        return fd
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
