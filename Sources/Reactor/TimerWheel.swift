/// Identifies a scheduled timer so that it can be cancelled.
public struct TimerHandle: Hashable, Sendable {
    let index: Int32
    let generation: UInt32
}

/// A hashed timer wheel: O(1) schedule and cancel, for the many coarse timeouts a server
/// keeps (handshake, idle, ping, close).
///
/// Time is counted in ticks. A timer due at tick `t` hangs in slot `t % slotCount`; each
/// slot is a doubly linked list threaded through one array of entries (indices, not
/// objects, so scheduling allocates nothing once the array has grown). Advancing the wheel
/// visits every slot passed and pops the entries whose tick has come; entries due in a
/// later turn stay where they are. A bitmap of non-empty slots tells how long the loop
/// may sleep.
struct TimerWheel<Payload> {
    private struct Entry {
        var due: Int64 = 0
        var previous: Int32 = -1
        var next: Int32 = -1
        var generation: UInt32 = 0
        var payload: Payload?
    }

    static var slotCount: Int { 512 }
    private var heads: [Int32]
    private var occupied: [UInt64]
    private var entries: [Entry] = []
    private var freeList: [Int32] = []
    /// The last tick whose slot has been processed.
    private(set) var currentTick: Int64
    /// Number of scheduled timers.
    private(set) var count = 0

    init(startTick: Int64) {
        heads = Array(repeating: -1, count: Self.slotCount)
        occupied = Array(repeating: 0, count: Self.slotCount / 64)
        currentTick = startTick
    }

    /// Schedules `payload` to fire at `due` (a tick); a tick already past fires on the next advance.
    mutating func schedule(at due: Int64, _ payload: Payload) -> TimerHandle {
        let index: Int32
        if let reused = freeList.popLast() {
            index = reused
        } else {
            index = Int32(entries.count)
            entries.append(Entry())
        }
        let tick = max(due, currentTick + 1)
        entries[Int(index)].due = tick
        entries[Int(index)].payload = payload
        link(index, slot: slot(of: tick))
        count += 1
        return TimerHandle(index: index, generation: entries[Int(index)].generation)
    }

    /// Cancels a timer; returns false when it has already fired or been cancelled.
    @discardableResult
    mutating func cancel(_ handle: TimerHandle) -> Bool {
        let index = Int(handle.index)
        guard index < entries.count, entries[index].generation == handle.generation,
              entries[index].payload != nil else { return false }
        unlink(handle.index, slot: slot(of: entries[index].due))
        free(handle.index)
        return true
    }

    /// Removes and returns one payload due at or before `tick`, earliest tick first, or nil
    /// when none is left. The caller fires it between calls, so a firing timer is free to
    /// schedule or cancel others.
    mutating func popDue(upTo tick: Int64) -> Payload? {
        while true {
            if let index = firstDue(inSlot: slot(of: currentTick), upTo: currentTick) {
                let payload = entries[Int(index)].payload
                unlink(index, slot: slot(of: currentTick))
                free(index)
                return payload
            }
            guard currentTick < tick else { return nil }
            if count == 0 {
                currentTick = tick
                return nil
            }
            currentTick += 1
        }
    }

    /// Ticks until the next non-empty slot (an entry there may belong to a later turn, so
    /// this is a lower bound), or nil when no timer is scheduled.
    func ticksUntilNextSlot() -> Int64? {
        guard count > 0 else { return nil }
        let start = slot(of: currentTick + 1)
        for distance in 0..<Self.slotCount {
            let candidate = (start + distance) & (Self.slotCount - 1)
            let word = occupied[candidate >> 6]
            if word == 0 {
                continue
            }
            if word & (1 << UInt64(candidate & 63)) != 0 { return Int64(distance + 1) }
        }
        return Int64(Self.slotCount)
    }

    private func firstDue(inSlot slot: Int, upTo tick: Int64) -> Int32? {
        var index = heads[slot]
        while index >= 0 {
            if entries[Int(index)].due <= tick { return index }
            index = entries[Int(index)].next
        }
        return nil
    }

    private func slot(of tick: Int64) -> Int {
        Int(tick & Int64(Self.slotCount - 1))
    }

    private mutating func link(_ index: Int32, slot: Int) {
        let head = heads[slot]
        entries[Int(index)].previous = -1
        entries[Int(index)].next = head
        if head >= 0 { entries[Int(head)].previous = index }
        heads[slot] = index
        occupied[slot >> 6] |= 1 << UInt64(slot & 63)
    }

    private mutating func unlink(_ index: Int32, slot: Int) {
        let previous = entries[Int(index)].previous
        let next = entries[Int(index)].next
        if previous >= 0 { entries[Int(previous)].next = next } else { heads[slot] = next }
        if next >= 0 { entries[Int(next)].previous = previous }
        if heads[slot] < 0 { occupied[slot >> 6] &= ~(1 << UInt64(slot & 63)) }
    }

    private mutating func free(_ index: Int32) {
        entries[Int(index)].payload = nil
        entries[Int(index)].generation &+= 1
        freeList.append(index)
        count -= 1
    }
}
