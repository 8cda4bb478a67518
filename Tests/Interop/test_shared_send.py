"""A publish costs its size once, not once per subscriber, and queued output stays within
--max-outbound-memory.

Subscribers here are raw `/topics/NAME` sockets with small receive buffers, so that the
kernel takes little of what is published to them until they read: what they have not taken
waits in the server, where a shared batch is held once for all of them.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time

from conftest import http_get
from wsutil import OP_BINARY, RawWebSocket, prometheus_value, proc_rss_kib

SUBSCRIBERS = 200
MESSAGE = 4 << 20


def metric(srv, name: str) -> float:
    # A generous timeout: the loop answers after the flush that hands a 4 MiB publish to 200
    # sockets, and the kernel copying most of it into their send buffers takes seconds of
    # system time on a loaded machine.
    status, _, body = http_get(srv.host, srv.port, "/metrics", timeout=60)
    assert status == 200
    value = prometheus_value(body.decode(), name)
    assert value is not None, f"/metrics has no sample {name}"
    return value


def slow_subscriber(srv, path: str) -> RawWebSocket:
    """A subscriber with a small receive buffer that reads only when the test says so."""
    ws = RawWebSocket(srv.host, srv.port, path, timeout=30)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(30)
    sock.connect((srv.host, srv.port))
    ws.sock = sock
    return ws.connect()


def read_exactly(ws: RawWebSocket, count: int) -> bytes:
    """`count` bytes from the socket, after whatever the handshake left in its buffer."""
    out = bytearray(ws.buf[:count])
    del ws.buf[: len(out)]
    view = bytearray(1 << 20)
    while len(out) < count:
        n = ws.sock.recv_into(view, min(len(view), count - len(out)))
        if n == 0:
            raise AssertionError(f"end of input after {len(out)} of {count} bytes")
        out += view[:n]
    return bytes(out)


def read_binary_message(ws: RawWebSocket) -> bytes:
    """One unmasked, unfragmented binary frame's payload."""
    first, second = read_exactly(ws, 2)
    assert first == 0x80 | OP_BINARY, f"unexpected frame start {first:#x}"
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", read_exactly(ws, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", read_exactly(ws, 8))
    return read_exactly(ws, length)


def pattern(size: int, seed: int) -> bytes:
    block = bytes((seed * 7 + i * 13) & 0xFF for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


def test_one_publish_to_many_slow_subscribers_is_held_once(start_server):
    # No pings: subscribers that do not read for a while would not answer them in time.
    srv = start_server("--max-message-size", str(8 << 20), "--ping-interval", "0")
    path = f"/topics/amp-{random.randrange(1 << 30)}"
    subscribers = [slow_subscriber(srv, path) for _ in range(SUBSCRIBERS)]
    try:
        publisher = slow_subscriber(srv, path)  # subscribed too: it receives its own copy
        subscribers.append(publisher)
        time.sleep(0.5)
        rss_before = proc_rss_kib(srv.pid)
        payload = pattern(MESSAGE, 1)
        publisher.send_frame(OP_BINARY, payload)
        # The publish is queued (held) once the gauge shows it; the kernel took a little.
        deadline = time.monotonic() + 20
        while metric(srv, "pushwave_outbound_queued_bytes") < MESSAGE // 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        queued = metric(srv, "pushwave_outbound_queued_bytes")
        growth = (proc_rss_kib(srv.pid) - rss_before) * 1024
        # Copying it per subscriber would be SUBSCRIBERS x MESSAGE (800 MiB). Held once it is
        # one message, plus the publisher's receive buffer and the batch it was encoded from,
        # and a small per-subscriber cost.
        allowed = 4 * MESSAGE + SUBSCRIBERS * 32 * 1024
        print(f"\nRSS growth {growth / 2**20:.1f} MiB for {SUBSCRIBERS} subscribers x {MESSAGE >> 20} MiB "
              f"(queued {queued / 2**20:.1f} MiB; a copy each would be {SUBSCRIBERS * MESSAGE / 2**20:.0f} MiB)")
        assert MESSAGE // 2 <= queued <= MESSAGE + 64 * 1024, f"queued bytes {queued}"
        assert growth < allowed, f"RSS grew by {growth / 2**20:.1f} MiB, allowed {allowed / 2**20:.1f} MiB"
        for ws in subscribers:
            assert read_binary_message(ws) == payload
        deadline = time.monotonic() + 10
        while metric(srv, "pushwave_outbound_queued_bytes") != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert metric(srv, "pushwave_outbound_queued_bytes") == 0
    finally:
        for ws in subscribers:
            ws.sock.close()


class FastReader(threading.Thread):
    """Reads every message as it comes, checking each against its sequence number."""

    def __init__(self, ws: RawWebSocket, progress: threading.Condition):
        super().__init__(daemon=True)
        self.ws = ws
        self.progress = progress
        self.received = 0
        self.error: BaseException | None = None

    def run(self):
        try:
            while True:
                message = read_binary_message(self.ws)
                (sequence,) = struct.unpack("!I", message[:4])
                assert sequence == self.received, f"got message {sequence}, expected {self.received}"
                assert message == stream_message(sequence)
                with self.progress:
                    self.received += 1
                    self.progress.notify_all()
                if self.received == STREAM_MESSAGES:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            with self.progress:
                self.progress.notify_all()


STREAM_MESSAGES = 600
STREAM_SIZE = 16 * 1024
OUTBOUND_BUDGET = 4 << 20


def stream_message(sequence: int) -> bytes:
    return struct.pack("!I", sequence) + pattern(STREAM_SIZE - 4, sequence)


def test_slow_and_fast_subscribers_under_a_stream_within_the_memory_budget(start_server):
    # The per-connection limit is above the budget, so that the global bound is what acts.
    srv = start_server("--max-outbound-memory", str(OUTBOUND_BUDGET), "--max-buffered-bytes", str(64 << 20),
                       "--ping-interval", "0")
    path = f"/topics/mixed-{random.randrange(1 << 30)}"
    time.sleep(0.3)
    rss_start = proc_rss_kib(srv.pid)
    progress = threading.Condition()
    slow = [slow_subscriber(srv, path) for _ in range(10)]
    fast = [FastReader(RawWebSocket(srv.host, srv.port, path, timeout=30).connect(), progress) for _ in range(5)]
    publisher = fast[0].ws  # subscribed as well: it reads its own copies
    closed_before = metric(srv, "pushwave_slow_consumers_closed_total")
    for reader in fast:
        reader.start()
    peak_queued = 0.0
    try:
        for sequence in range(STREAM_MESSAGES):
            with progress:
                ok = progress.wait_for(
                    lambda: min(r.received for r in fast) >= sequence - 8 or any(r.error for r in fast), timeout=20)
            assert ok, f"fast subscribers stalled at {[r.received for r in fast]} of {sequence}"
            assert not any(r.error for r in fast), [repr(r.error) for r in fast if r.error]
            publisher.send_frame(OP_BINARY, stream_message(sequence))
            if sequence % 50 == 0:
                peak_queued = max(peak_queued, metric(srv, "pushwave_outbound_queued_bytes"))
        for reader in fast:
            reader.join(30)
            assert reader.error is None, f"fast subscriber failed: {reader.error!r}"
            assert reader.received == STREAM_MESSAGES
        peak_queued = max(peak_queued, metric(srv, "pushwave_outbound_queued_bytes"))
        # Within the budget, give or take the one batch that tips it over.
        assert peak_queued <= OUTBOUND_BUDGET + 2 * STREAM_SIZE, f"queued {peak_queued} bytes"
        closed = metric(srv, "pushwave_slow_consumers_closed_total") - closed_before
        assert closed == len(slow), f"{closed} slow consumers closed, expected {len(slow)}"
        assert metric(srv, "pushwave_outbound_memory_refusals_total") >= len(slow)
        # What the slow ones got: a prefix of the stream, in order, then the connection ended.
        for ws in slow:
            received = 0
            try:
                while True:
                    assert read_binary_message(ws) == stream_message(received)
                    received += 1
            except (ConnectionError, AssertionError) as exc:
                if isinstance(exc, AssertionError) and "end of input" not in str(exc):
                    raise
            assert received < STREAM_MESSAGES
        assert metric(srv, "pushwave_outbound_queued_bytes") == 0
        rss_growth = (proc_rss_kib(srv.pid) - rss_start) * 1024
        print(f"\npeak queued {peak_queued / 2**20:.2f} MiB (budget {OUTBOUND_BUDGET >> 20} MiB), "
              f"RSS after the run {rss_growth / 2**20:+.1f} MiB from the start")
        assert rss_growth < 16 << 20, f"RSS did not return near its baseline: +{rss_growth / 2**20:.1f} MiB"
    finally:
        for ws in slow:
            ws.sock.close()
        for reader in fast:
            reader.ws.sock.close()
