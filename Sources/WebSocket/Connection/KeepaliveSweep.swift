import Reactor

/// Pings and idle timeouts for all the open connections of one context, checked by one
/// periodic sweep instead of a timer per connection.
///
/// A timer per connection cost a timer-wheel entry (48 bytes, plus the array's spare room)
/// for every idle connection, and one cancel and reschedule per interval; a list of the
/// watched connections still cost a slot (8 bytes, plus the array's spare room) and an index
/// in each. The sweep keeps nothing per connection: every `period` it walks the loop's
/// registrations, which hold every open connection already, and each open connection of
/// its context decides from its last input whether to ping, to give up on the peer, or to
/// close for idleness (``WebSocket/keepaliveCheck(now:)``).
///
/// The period is a quarter of the shortest interval, at most a second, so a ping goes out
/// between one interval and one interval plus a quarter after the last input, and the
/// peer then has at least three quarters of an interval to answer (the connection is
/// dropped once two intervals passed without input). A visit is one step along the loop's
/// table and a type check per registration, at most once a second. The timer runs while
/// the context has open connections: a connection that opens starts it, a sweep that finds
/// none stops it.
///
/// Confined to its context's loop.
final class KeepaliveSweep {
    private let loop: EventLoop
    private let periodMilliseconds: Int64
    private var timer: TimerHandle?

    /// Nil when the configuration has neither pings nor an idle timeout.
    init?(loop: EventLoop, configuration: WebSocketConfiguration) {
        let intervals = [configuration.pingIntervalMilliseconds, configuration.idleTimeoutMilliseconds].filter { $0 > 0 }
        guard let shortest = intervals.min() else { return nil }
        self.loop = loop
        periodMilliseconds = min(1_000, max(EventLoop.tickMilliseconds, shortest / 4))
    }

    /// Open connections the sweep watches: for tests.
    var count: Int {
        var count = 0
        forEachWatched { _ in count += 1 }
        return count
    }

    /// A connection of this sweep's context opened: makes sure the sweep runs.
    func connectionOpened() {
        if timer == nil { scheduleSweep() }
    }

    private func scheduleSweep() {
        timer = loop.schedule(afterMilliseconds: periodMilliseconds) { [weak self] in
            self?.sweep()
        }
    }

    /// Visits every open connection of the context once. A check that closes its
    /// connection, or a callback that closes others, changes what the loop holds, not what
    /// this sweep visits (``EventLoop/forEachRegistration(_:)`` walks a snapshot and skips
    /// what closed in the meantime).
    private func sweep() {
        timer = nil
        let now = loop.now
        var found = false
        forEachWatched { socket in
            found = true
            socket.keepaliveCheck(now: now)
        }
        if found { scheduleSweep() }
    }

    /// The loop's open WebSocket connections whose context this sweep serves.
    private func forEachWatched(_ body: (WebSocket) -> Void) {
        loop.forEachRegistration { registered in
            guard let socket = registered as? WebSocket, socket.context.keepalive === self, socket.phase == .open else { return }
            body(socket)
        }
    }
}
