import Testing
@testable import Reactor

@Suite struct TimerWheelTests {
    private func drain(_ wheel: inout TimerWheel<Int>, upTo tick: Int64) -> [Int] {
        var fired: [Int] = []
        while let value = wheel.popDue(upTo: tick) { fired.append(value) }
        return fired
    }

    @Test func firesInDueOrder() {
        var wheel = TimerWheel<Int>(startTick: 100)
        for (value, due) in [(3, 130), (1, 105), (2, 120), (4, 131)] {
            _ = wheel.schedule(at: Int64(due), value)
        }
        #expect(drain(&wheel, upTo: 104).isEmpty)
        #expect(drain(&wheel, upTo: 125) == [1, 2])
        #expect(drain(&wheel, upTo: 200) == [3, 4])
        #expect(wheel.count == 0)
    }

    @Test func cancelRemovesOnlyThatTimer() {
        var wheel = TimerWheel<Int>(startTick: 0)
        let first = wheel.schedule(at: 10, 1)
        _ = wheel.schedule(at: 10, 2)
        let third = wheel.schedule(at: 10, 3)
        let cancelledFirst = wheel.cancel(first)
        let cancelledAgain = wheel.cancel(first)
        let cancelledThird = wheel.cancel(third)
        #expect(cancelledFirst)
        #expect(!cancelledAgain, "a second cancel is a no-op")
        #expect(cancelledThird)
        #expect(drain(&wheel, upTo: 10) == [2])
    }

    @Test func handleOfAFiredTimerDoesNotCancelItsSuccessor() {
        var wheel = TimerWheel<Int>(startTick: 0)
        let old = wheel.schedule(at: 1, 1)
        #expect(drain(&wheel, upTo: 1) == [1])
        _ = wheel.schedule(at: 5, 2)  // reuses the entry
        let cancelledOld = wheel.cancel(old)
        #expect(!cancelledOld)
        #expect(drain(&wheel, upTo: 5) == [2])
    }

    @Test func delaysBeyondOneTurn() {
        let turn = Int64(TimerWheel<Int>.slotCount)
        var wheel = TimerWheel<Int>(startTick: 0)
        _ = wheel.schedule(at: 3 * turn + 7, 3)
        _ = wheel.schedule(at: 7, 0)          // same slot, first turn
        _ = wheel.schedule(at: turn + 7, 1)   // same slot, second turn
        #expect(drain(&wheel, upTo: 7) == [0])
        #expect(drain(&wheel, upTo: turn + 6).isEmpty)
        #expect(drain(&wheel, upTo: turn + 7) == [1])
        #expect(drain(&wheel, upTo: 3 * turn + 6).isEmpty)
        #expect(drain(&wheel, upTo: 10 * turn) == [3])
    }

    @Test func pastDueFiresOnNextAdvance() {
        var wheel = TimerWheel<Int>(startTick: 50)
        _ = wheel.schedule(at: 10, 1)
        #expect(drain(&wheel, upTo: 51) == [1])
    }

    @Test func nextSlotBoundsTheSleep() {
        var wheel = TimerWheel<Int>(startTick: 0)
        #expect(wheel.ticksUntilNextSlot() == nil)
        _ = wheel.schedule(at: 40, 1)
        _ = wheel.schedule(at: 25, 2)
        #expect(wheel.ticksUntilNextSlot() == 25)
        _ = drain(&wheel, upTo: 30)
        #expect(wheel.ticksUntilNextSlot() == 10)
    }

    @Test func manyTimersScheduleAndCancelInAnyOrder() {
        var wheel = TimerWheel<Int>(startTick: 0)
        var handles: [TimerHandle] = []
        for index in 0..<10_000 {
            handles.append(wheel.schedule(at: Int64(1 + (index * 7919) % 3000), index))
        }
        var cancelled = 0
        for index in stride(from: 0, to: 10_000, by: 2) where wheel.cancel(handles[index]) { cancelled += 1 }
        #expect(cancelled == 5_000)
        let fired = drain(&wheel, upTo: 3001)
        #expect(fired.count == 5_000)
        #expect(fired.allSatisfy { $0 % 2 == 1 })
        let dues = fired.map { 1 + ($0 * 7919) % 3000 }
        #expect(dues == dues.sorted())
    }
}
import TestSupport
