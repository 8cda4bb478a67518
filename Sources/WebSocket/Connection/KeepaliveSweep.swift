import Reactor

/// Pings and idle timeouts for all the open connections of one context, checked by one
/// periodic sweep instead of a timer per connection.
///
/// A timer per connection cost a timer-wheel entry (48 bytes, plus the array's spare room)
/// for every idle connection, and one cancel and reschedule per interval; the sweep costs
/// an array slot (8 bytes) and a 4-byte index kept in the connection. Every `period` it
/// visits the open connections and each decides from its last input whether to ping, to
/// give up on the peer, or to close for idleness (``WebSocket/keepaliveCheck(now:)``).
///
/// The period is a quarter of the shortest interval, at most a second, so a ping goes out
/// between one interval and one interval plus a quarter after the last input, and the
/// peer then has at least three quarters of an interval to answer (the connection is
/// dropped once two intervals passed without input). Visiting 20,000 connections takes a
/// few tens of microseconds once a second.
///
/// Confined to its context's loop.
final class KeepaliveSweep {
    private let loop: EventLoop
    private let periodMilliseconds: Int64
    /// The open connections with keepalive; each knows its slot (`keepaliveSlot`).
    private var sockets: [WebSocket] = []
    private var timer: TimerHandle?

    /// Nil when the configuration has neither pings nor an idle timeout.
    init?(loop: EventLoop, configuration: WebSocketConfiguration) {
        let intervals = [configuration.pingIntervalMilliseconds, configuration.idleTimeoutMilliseconds].filter { $0 > 0 }
        guard let shortest = intervals.min() else { return nil }
        self.loop = loop
        periodMilliseconds = min(1_000, max(EventLoop.tickMilliseconds, shortest / 4))
    }

    /// Connections being watched: for tests.
    var count: Int { sockets.count }

    /// Starts watching an open connection.
    func add(_ socket: WebSocket) {
        guard socket.keepaliveSlot < 0 else { return }
        socket.keepaliveSlot = Int32(sockets.count)
        sockets.append(socket)
        if timer == nil { scheduleSweep() }
    }

    /// Stops watching a connection (closed or closing); O(1): the last one takes its slot.
    func remove(_ socket: WebSocket) {
        let slot = Int(socket.keepaliveSlot)
        guard slot >= 0, slot < sockets.count, sockets[slot] === socket else { return }
        socket.keepaliveSlot = -1
        let last = sockets.removeLast()
        if slot < sockets.count {
            sockets[slot] = last
            last.keepaliveSlot = Int32(slot)
        }
        if sockets.isEmpty, let timer {
            loop.cancel(timer)
            self.timer = nil
        }
    }

    private func scheduleSweep() {
        timer = loop.schedule(afterMilliseconds: periodMilliseconds) { [weak self] in
            self?.sweep()
        }
    }

    /// Visits every connection once, from the last slot down, so that a connection closed
    /// by its check (which moves the last one into its slot) leaves nothing unvisited. A
    /// callback that closes other connections may make this sweep skip or revisit some;
    /// the checks are idempotent and the next sweep catches up.
    private func sweep() {
        timer = nil
        let now = loop.now
        var slot = sockets.count
        while slot > 0 {
            slot = min(slot, sockets.count) - 1
            guard slot >= 0 else { break }
            sockets[slot].keepaliveCheck(now: now)
        }
        if !sockets.isEmpty { scheduleSweep() }
    }
}
