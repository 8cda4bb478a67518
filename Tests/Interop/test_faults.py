"""Fault tests through the real server: peers that vanish at every stage of a connection
(with a FIN or a TCP reset), a slow consumer, slowloris, a ping flood, boundary message
sizes, connection churn, and a short soak run (scripts/soak).

After every scenario the server must have released every descriptor it opened for it
(its /proc/PID/fd count returns to what it was before), and must still answer /healthz and
echo a message.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import select
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO_ROOT, ServerProcess, SharedServer, http_get
from wsutil import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ConnectionClosedByPeer,
    RawWebSocket,
    abort_socket,
    build_frame,
    close_payload,
    proc_fd_count,
    proc_rss_kib,
    prometheus_value,
    run_async,
    upgrade_request_bytes,
)

MAX_MESSAGE = 1 << 20  # --max-message-size of the server under test
MAX_BUFFERED = 1 << 20  # --max-buffered-bytes
HANDSHAKE_TIMEOUT = 3.0  # --handshake-timeout
SERVER_ARGS = [
    "--max-message-size", str(MAX_MESSAGE), "--max-buffered-bytes", str(MAX_BUFFERED),
    "--handshake-timeout", str(HANDSHAKE_TIMEOUT),
]

# How long the server may take to release a vanished peer's descriptor. Peers here are
# gone (EOF or reset), so this is immediate in practice; the slow-consumer test allows
# for the server's 5 s close timer separately.
FD_SETTLE_TIMEOUT = 3.0


def _raise_nofile_soft_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.fixture(scope="module")
def _faults_server(pushwave_bin, tmp_path_factory):
    _raise_nofile_soft_limit()
    holder = SharedServer(pushwave_bin, tmp_path_factory.mktemp("faults"), SERVER_ARGS, "faults")
    yield holder
    if holder.current is not None:
        problem = holder.current.stop(check=False)
        if problem:
            pytest.fail(problem, pytrace=False)


@pytest.fixture
def srv(_faults_server) -> ServerProcess:
    server = _faults_server.get()
    yield server
    server.assert_alive()


# -- checks shared by every scenario ---------------------------------------------------


def _fd_table(pid: int) -> list[str]:
    entries = []
    for name in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            entries.append(f"{name} -> {os.readlink(f'/proc/{pid}/fd/{name}')}")
        except OSError:
            pass
    return entries


def wait_fds_at_most(srv: ServerProcess, limit: int, timeout: float = FD_SETTLE_TIMEOUT, what: str = "") -> float:
    """Wait until the server holds at most `limit` descriptors; returns how long it took."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        srv.assert_alive()
        count = proc_fd_count(srv.pid)
        if count <= limit:
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            table = "\n".join(_fd_table(srv.pid))
            pytest.fail(
                f"descriptor leak{' after ' + what if what else ''}: the server holds {count} descriptors "
                f"{timeout:.1f} s later, expected at most {limit}\n--- /proc/{srv.pid}/fd ---\n{table}",
                pytrace=False,
            )
        time.sleep(0.02)


def settled_fd_count(srv: ServerProcess, quiet: float = 0.3, timeout: float = 5.0) -> int:
    """The server's descriptor count once it has stopped changing for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last = proc_fd_count(srv.pid)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = proc_fd_count(srv.pid)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            break
    return last


def echo_roundtrip(srv: ServerProcess, payload: bytes = b"still echoing", timeout: float = 5.0) -> float:
    """Open /echo, send one text message, check the echo, close cleanly; returns the round-trip time."""
    with RawWebSocket(srv.host, srv.port, "/echo", timeout=timeout) as ws:
        start = time.monotonic()
        ws.send_frame(OP_TEXT, payload)
        opcode, data = ws.recv_message()
        elapsed = time.monotonic() - start
        assert (opcode, data) == (OP_TEXT, payload), f"bad echo: {opcode:#x} {data[:60]!r}"
        ws.send_close(1000)
        frame = ws.expect_close()
        assert frame.close_code == 1000, f"echo connection closed with {frame.close_code}"
        assert ws.wait_eof(), "server kept the echo connection open after the closing handshake"
    return elapsed


def assert_server_recovered(srv: ServerProcess, fds_before: int, what: str, fd_timeout: float = FD_SETTLE_TIMEOUT) -> None:
    """No descriptor leaked, /healthz answers, /echo echoes (and that connection is released too)."""
    wait_fds_at_most(srv, fds_before, timeout=fd_timeout, what=what)
    status, _, body = http_get(srv.host, srv.port, "/healthz")
    assert status == 200, f"/healthz answered {status} {body!r} after {what}"
    echo_roundtrip(srv, f"echo after {what}".encode())
    wait_fds_at_most(srv, fds_before, what=f"the echo check after {what}")
    srv.assert_alive()


def metrics(srv: ServerProcess) -> str:
    status, _, body = http_get(srv.host, srv.port, "/metrics")
    assert status == 200, f"/metrics answered {status}"
    return body.decode()


def metric(srv: ServerProcess, name: str) -> float:
    value = prometheus_value(metrics(srv), name)
    assert value is not None, f"/metrics has no sample {name}"
    return value


# -- peers that vanish at every stage ------------------------------------------------


def _tcp(srv):
    sock = socket.create_connection((srv.host, srv.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _upgraded(srv) -> RawWebSocket:
    return RawWebSocket(srv.host, srv.port, "/echo").connect()


def stage_mid_request_line(srv):
    sock = _tcp(srv)
    sock.sendall(b"GET /ec")
    return sock


def stage_mid_headers(srv):
    sock = _tcp(srv)
    request = upgrade_request_bytes(srv.host, srv.port)
    sock.sendall(request[: request.index(b"Sec-WebSocket-Key") + 10])
    return sock


def stage_after_request(srv):
    """The whole upgrade request, then gone without reading the 101."""
    sock = _tcp(srv)
    sock.sendall(upgrade_request_bytes(srv.host, srv.port))
    return sock


def stage_after_101(srv):
    return _upgraded(srv).sock


def stage_mid_frame_header(srv):
    ws = _upgraded(srv)
    ws.send_raw(build_frame(OP_TEXT, b"x" * 200)[:1])  # 1 byte of the 2-byte header
    return ws.sock


def stage_mid_extended_length(srv):
    ws = _upgraded(srv)
    ws.send_raw(build_frame(OP_BINARY, b"x" * 70000)[:5])  # 2 + 3 of the 8 length bytes
    return ws.sock


def stage_mid_mask_key(srv):
    ws = _upgraded(srv)
    ws.send_raw(build_frame(OP_BINARY, b"x" * 300)[:6])  # 2 + 2 length + 2 of the 4 key bytes
    return ws.sock


def stage_mid_payload(srv):
    ws = _upgraded(srv)
    ws.send_raw(build_frame(OP_BINARY, os.urandom(100_000))[:30_000])
    return ws.sock


def stage_mid_fragmented_message(srv):
    ws = _upgraded(srv)
    ws.send_frame(OP_TEXT, b"first fragment", fin=False)
    ws.send_frame(OP_CONT, b" second fragment", fin=False)
    return ws.sock


def stage_while_server_sends(srv):
    """The server has ~1 MiB of echo to send; the peer reads a little of it and vanishes."""
    ws = _upgraded(srv)
    ws.send_frame(OP_BINARY, os.urandom(MAX_MESSAGE))
    got = 0
    while got < 10_000:
        chunk = ws.sock.recv(4096)
        assert chunk, "server closed instead of echoing"
        got += len(chunk)
    return ws.sock


def stage_after_sending_close(srv):
    """Sends a close frame and vanishes without reading the server's answer."""
    ws = _upgraded(srv)
    ws.send_close(1000)
    return ws.sock


def stage_before_answering_server_close(srv):
    """Makes the server close (an unmasked frame is a protocol error, 1002), reads its close
    frame, and vanishes instead of answering it."""
    ws = _upgraded(srv)
    ws.send_frame(OP_TEXT, b"unmasked", mask=False)
    frame = ws.expect_close()
    assert frame.close_code == 1002, f"expected the server to close with 1002, got {frame.close_code}"
    return ws.sock


STAGES = [
    stage_mid_request_line,
    stage_mid_headers,
    stage_after_request,
    stage_after_101,
    stage_mid_frame_header,
    stage_mid_extended_length,
    stage_mid_mask_key,
    stage_mid_payload,
    stage_mid_fragmented_message,
    stage_while_server_sends,
    stage_after_sending_close,
    stage_before_answering_server_close,
]


@pytest.mark.parametrize("how", ["fin", "reset"])
@pytest.mark.parametrize("stage", STAGES, ids=lambda f: f.__name__.removeprefix("stage_"))
def test_peer_vanishes(srv, stage, how):
    fds_before = settled_fd_count(srv)
    # Several peers per case, so that a leak of one descriptor per occurrence shows clearly.
    for _ in range(5):
        sock = stage(srv)
        if how == "reset":
            abort_socket(sock)
        else:
            sock.close()
    assert_server_recovered(srv, fds_before, f"peers vanished {stage.__name__.removeprefix('stage_')} ({how})")


@pytest.mark.parametrize("how", ["fin", "reset", "silent"])
def test_peer_vanishes_before_answering_server_close(start_server, how):
    """The server starts a closing handshake of its own (idle timeout: 1001) and waits for the
    peer's close frame. The peer never answers: it vanishes (FIN or reset), or stays silent,
    in which case the server must give up after its close timeout (5 s) and reset."""
    _raise_nofile_soft_limit()
    server = start_server("--idle-timeout", "1")
    fds_before = settled_fd_count(server)
    peers = [RawWebSocket(server.host, server.port, "/echo", timeout=5).connect() for _ in range(5)]
    for ws in peers:
        frame = ws.expect_close(timeout=4)
        assert frame.close_code == 1001, f"idle close code {frame.close_code}, expected 1001"
    assert proc_fd_count(server.pid) > fds_before, "the server released the connections before the closing handshake ended"
    for ws in peers:
        if how == "fin":
            ws.close_socket()
        elif how == "reset":
            abort_socket(ws.sock)
            ws.sock = None
    if how == "silent":
        # Released by the close timer: the peers see the connection end without having answered.
        took = wait_fds_at_most(server, fds_before, timeout=5 + 2, what="silent peers during the server's close")
        for ws in peers:
            assert ws.wait_eof(1), "the server did not end the connection of a peer that never answered its close"
            ws.close_socket()
        assert took >= 3, f"the server dropped silent peers {took:.1f} s into its closing handshake, before the close timeout"
    assert_server_recovered(server, fds_before, f"peers that did not answer the server's close ({how})")


# -- slow consumer ---------------------------------------------------------------------

SLOW_MESSAGES = 200
SLOW_SIZE = 64 * 1024
SLOW_WINDOW = 4  # messages the publisher may be ahead of the reading subscribers


def _slow_payload(i: int) -> bytes:
    return i.to_bytes(4, "big") + bytes([i % 251]) * (SLOW_SIZE - 4)


class _Subscriber(threading.Thread):
    """Reads every message of a topic connection and checks order and content."""

    def __init__(self, ws: RawWebSocket, name: str, progress: threading.Condition):
        super().__init__(name=name, daemon=True)
        self.ws = ws
        self.received = 0
        self.error: BaseException | None = None
        self.progress = progress

    def run(self) -> None:
        try:
            while self.received < SLOW_MESSAGES:
                opcode, data = self.ws.recv_message(timeout=20)
                expected = _slow_payload(self.received)
                if opcode != OP_BINARY or data != expected:
                    raise AssertionError(
                        f"{self.name}: message {self.received} wrong: opcode {opcode:#x}, "
                        f"{len(data)} bytes, starts {data[:8]!r}"
                    )
                with self.progress:
                    self.received += 1
                    self.progress.notify_all()
        except BaseException as exc:  # reported by the test
            self.error = exc
            with self.progress:
                self.progress.notify_all()


class _Watcher(threading.Thread):
    """Echo round trips on a third connection (latency) and the server's RSS, until stopped."""

    def __init__(self, srv: ServerProcess, ws: RawWebSocket):
        super().__init__(name="watcher", daemon=True)
        self.srv = srv
        self.ws = ws
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.max_rss = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                self.max_rss = max(self.max_rss, proc_rss_kib(self.srv.pid))
                payload = f"latency probe {n}".encode()
                start = time.monotonic()
                self.ws.send_frame(OP_TEXT, payload)
                got = self.ws.recv_message(timeout=5)
                self.latencies.append(time.monotonic() - start)
                assert got == (OP_TEXT, payload), f"bad echo {got!r}"
                n += 1
                self.stop.wait(0.005)
            self.max_rss = max(self.max_rss, proc_rss_kib(self.srv.pid))
        except BaseException as exc:
            self.error = exc


def test_slow_consumer_is_closed_and_others_are_served(srv):
    fds_before = settled_fd_count(srv)
    rss_before = proc_rss_kib(srv.pid)
    closed_before = metric(srv, "pushwave_slow_consumers_closed_total")
    path = f"/topics/slow-{random.randrange(1 << 30)}"

    # The non-reader: a small receive buffer, and it never reads.
    lazy = RawWebSocket(srv.host, srv.port, path)
    lazy_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lazy_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    lazy_sock.settimeout(5)
    lazy_sock.connect((srv.host, srv.port))
    lazy.sock = lazy_sock
    lazy.connect()

    reader_ws = RawWebSocket(srv.host, srv.port, path, timeout=20).connect()
    # The publisher is subscribed too (a topic delivers to its sender), so it reads as well.
    publisher_ws = RawWebSocket(srv.host, srv.port, path, timeout=20).connect()
    echo_ws = RawWebSocket(srv.host, srv.port, "/echo").connect()

    progress = threading.Condition()
    reader = _Subscriber(reader_ws, "reader", progress)
    own_copy = _Subscriber(publisher_ws, "publisher's own copy", progress)
    watcher = _Watcher(srv, echo_ws)
    for t in (reader, own_copy, watcher):
        t.start()
    try:
        for i in range(SLOW_MESSAGES):
            with progress:
                ok = progress.wait_for(
                    lambda: min(reader.received, own_copy.received) >= i - SLOW_WINDOW or reader.error or own_copy.error,
                    timeout=20,
                )
            assert ok, f"subscribers stalled: reader {reader.received}, publisher {own_copy.received} of {i}"
            assert reader.error is None, f"reading subscriber failed: {reader.error!r}"
            assert own_copy.error is None, f"publisher's own subscription failed: {own_copy.error!r}"
            publisher_ws.send_frame(OP_BINARY, _slow_payload(i))
            assert publisher_ws.send_error is None, f"publishing failed: {publisher_ws.send_error!r}"
        reader.join(30)
        own_copy.join(30)
        assert reader.error is None, f"reading subscriber failed: {reader.error!r}"
        assert own_copy.error is None, f"publisher's own subscription failed: {own_copy.error!r}"
        assert reader.received == SLOW_MESSAGES, f"reading subscriber got {reader.received} of {SLOW_MESSAGES}"
        assert own_copy.received == SLOW_MESSAGES
        # The non-reader is closed by the server: its descriptor goes (after at most the 5 s
        # close timer, since it never reads the close frame), the other three stay. The echo
        # probes go on meanwhile.
        wait_fds_at_most(srv, fds_before + 3, timeout=10, what="closing the slow consumer")
    finally:
        watcher.stop.set()
        watcher.join(10)
    assert watcher.error is None, f"echo client failed during the scenario: {watcher.error!r}"
    assert len(watcher.latencies) >= 50, f"only {len(watcher.latencies)} echo probes completed"

    closed = metric(srv, "pushwave_slow_consumers_closed_total") - closed_before
    assert closed == 1, f"pushwave_slow_consumers_closed_total grew by {closed}, expected 1 (only the non-reader)"

    # What the non-reader can still read: a prefix of the messages, then at most a 1008 close.
    lazy_messages, close_code, ended = 0, None, False
    try:
        while True:
            frame = lazy.recv_frame(timeout=5)
            if frame.opcode == OP_CLOSE:
                close_code = frame.close_code
                ended = lazy.wait_eof(5)
                break
            assert frame.opcode == OP_BINARY and frame.payload == _slow_payload(lazy_messages)
            lazy_messages += 1
    except ConnectionClosedByPeer:
        ended = True
    assert ended, "the slow consumer's TCP connection was not closed by the server"
    assert lazy_messages < SLOW_MESSAGES, "the non-reader was never cut off"
    assert close_code in (None, 1008), f"slow consumer closed with {close_code}, expected 1008"

    max_latency = max(watcher.latencies)
    rss_growth_mib = (watcher.max_rss - rss_before) / 1024
    print(
        f"slow consumer: non-reader got {lazy_messages}/{SLOW_MESSAGES} before being cut off (close {close_code}); "
        f"echo probes {len(watcher.latencies)}, max latency {max_latency * 1000:.1f} ms; "
        f"RSS before {rss_before} KiB, max {watcher.max_rss} KiB (+{rss_growth_mib:.1f} MiB)"
    )
    assert max_latency < 0.2, f"echo latency reached {max_latency * 1000:.0f} ms while a slow consumer was fed"
    assert rss_growth_mib < 64, f"server RSS grew by {rss_growth_mib:.1f} MiB with --max-buffered-bytes {MAX_BUFFERED}"

    for ws in (reader_ws, publisher_ws, echo_ws, lazy):
        ws.close_socket()
    assert_server_recovered(srv, fds_before, "the slow-consumer scenario")


# -- slowloris --------------------------------------------------------------------------

@pytest.mark.slow
def test_slowloris_times_out_and_others_are_served(srv):
    fds_before = settled_fd_count(srv)
    # ~220 bytes at 10 bytes/s would take 22 s: the handshake timeout must cut it short.
    request = upgrade_request_bytes(srv.host, srv.port, extra_headers="X-Padding: " + "p" * 60 + "\r\n")
    sock = _tcp(srv)
    start = time.monotonic()
    outcome: dict = {}

    def dribble():
        try:
            for byte in request:
                readable, _, _ = select.select([sock], [], [], 0.1)
                if readable:
                    break
                sock.send(bytes([byte]))
            data = b""
            sock.settimeout(max(0.1, start + HANDSHAKE_TIMEOUT + 5 - time.monotonic()))
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            outcome["response"] = data
        except (ConnectionResetError, BrokenPipeError) as exc:
            outcome["reset"] = repr(exc)
        except socket.timeout:
            outcome["timeout"] = True
        outcome["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=dribble, daemon=True)
    t.start()
    served, worst = 0, 0.0
    while t.is_alive() and time.monotonic() - start < HANDSHAKE_TIMEOUT + 5:
        elapsed = echo_roundtrip(srv, b"served during slowloris")
        status, _, _ = http_get(srv.host, srv.port, "/healthz")
        assert status == 200
        served += 1
        worst = max(worst, elapsed)
        time.sleep(0.5)
    t.join(2)
    sock.close()
    assert not t.is_alive(), "the slowloris client was still being read 5 s after the handshake timeout"
    assert "timeout" not in outcome, f"the server neither answered nor closed the slowloris connection: {outcome}"
    elapsed = outcome["elapsed"]
    print(f"slowloris: ended after {elapsed:.2f} s ({outcome.get('response', b'')[:40]!r}); served {served} others, worst echo {worst * 1000:.1f} ms")
    assert HANDSHAKE_TIMEOUT - 0.5 <= elapsed <= HANDSHAKE_TIMEOUT + 2, f"slowloris connection ended after {elapsed:.2f} s"
    if outcome.get("response"):
        assert outcome["response"].startswith(b"HTTP/1.1 408"), f"expected 408, got {outcome['response'][:80]!r}"
    assert served >= 4, f"only {served} other clients were served during the slowloris"
    assert worst < 1.0, f"an echo during the slowloris took {worst * 1000:.0f} ms"
    assert_server_recovered(srv, fds_before, "slowloris")


# -- ping flood ---------------------------------------------------------------------------

PINGS = 10_000


def test_ping_flood_gets_every_pong(srv):
    fds_before = settled_fd_count(srv)
    ws = RawWebSocket(srv.host, srv.port, "/echo", timeout=30).connect()
    payloads = [f"ping{i:05d}".encode() for i in range(PINGS)]
    flood = b"".join(build_frame(OP_PING, p) for p in payloads)
    sender = threading.Thread(target=ws.send_raw, args=(flood,), daemon=True)
    sender.start()  # one write; read concurrently so neither side's buffers fill
    deadline = time.monotonic() + 30
    for i, expected in enumerate(payloads):
        frame = ws.recv_frame(timeout=max(0.0, deadline - time.monotonic()))
        assert frame.opcode == OP_PONG, f"frame {i}: expected a pong, got {frame}"
        assert frame.payload == expected, f"pong {i} has payload {frame.payload!r}, expected {expected!r}"
    sender.join(10)
    assert ws.send_error is None, f"sending the flood failed: {ws.send_error!r}"
    # Nothing more than the 10,000 pongs, and the connection still echoes.
    ws.send_frame(OP_TEXT, b"after the flood")
    frame = ws.recv_frame()
    assert (frame.opcode, frame.payload) == (OP_TEXT, b"after the flood"), f"expected the echo, got {frame}"
    ws.send_close(1000)
    assert ws.expect_close().close_code == 1000
    ws.close_socket()
    assert_server_recovered(srv, fds_before, "the ping flood")


# -- boundary sizes -------------------------------------------------------------------------


def test_zero_length_frames_are_echoed(srv):
    fds_before = settled_fd_count(srv)
    with RawWebSocket(srv.host, srv.port, "/echo") as ws:
        for opcode in (OP_TEXT, OP_BINARY, OP_TEXT):
            ws.send_frame(opcode, b"")
            assert ws.recv_message() == (opcode, b"")
        # A message made only of empty fragments.
        ws.send_frame(OP_BINARY, b"", fin=False)
        ws.send_frame(OP_CONT, b"", fin=False)
        ws.send_frame(OP_CONT, b"")
        assert ws.recv_message() == (OP_BINARY, b"")
        ws.send_close(1000)
        assert ws.expect_close().close_code == 1000
    assert_server_recovered(srv, fds_before, "zero-length frames")


@pytest.mark.parametrize("fragments", [1, 2], ids=["one-frame", "two-fragments"])
def test_message_at_max_size_is_echoed(srv, fragments):
    fds_before = settled_fd_count(srv)
    payload = os.urandom(MAX_MESSAGE)
    with RawWebSocket(srv.host, srv.port, "/echo", timeout=20) as ws:
        half = MAX_MESSAGE // fragments
        if fragments == 1:
            ws.send_frame(OP_BINARY, payload)
        else:
            ws.send_frame(OP_BINARY, payload[:half], fin=False)
            ws.send_frame(OP_CONT, payload[half:])
        opcode, data = ws.recv_message()
        assert opcode == OP_BINARY and len(data) == MAX_MESSAGE and data == payload, f"echo of {MAX_MESSAGE} B differs ({len(data)} B)"
        ws.send_close(1000)
        assert ws.expect_close().close_code == 1000
    assert_server_recovered(srv, fds_before, f"a {MAX_MESSAGE}-byte message")


@pytest.mark.parametrize("fragments", [1, 2], ids=["one-frame", "two-fragments"])
def test_message_one_byte_over_max_size_is_1009(srv, fragments):
    fds_before = settled_fd_count(srv)
    payload = os.urandom(MAX_MESSAGE + 1)
    with RawWebSocket(srv.host, srv.port, "/echo", timeout=20) as ws:
        if fragments == 1:
            ws.send_frame(OP_BINARY, payload)
        else:
            ws.send_frame(OP_BINARY, payload[: MAX_MESSAGE // 2], fin=False)
            ws.send_frame(OP_CONT, payload[MAX_MESSAGE // 2 :])
        frame = ws.expect_close()
        assert frame.close_code == 1009, f"expected 1009 for {MAX_MESSAGE + 1} B, got {frame.close_code} {frame.close_reason!r}"
        assert not ws.frames_before_close, f"the oversized message was (partly) echoed: {ws.frames_before_close}"
        assert ws.wait_eof(), "the server did not close TCP after 1009"
    assert_server_recovered(srv, fds_before, f"a {MAX_MESSAGE + 1}-byte message")


# -- churn ----------------------------------------------------------------------------------

CHURN_TOTAL = 10_000
CHURN_BATCH = 500


async def _churn_one(host: str, port: int, request: bytes, mode: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), f"churn upgrade answered {head[:40]!r}"
        if mode == 0:  # clean close with 1000: expect the server's close 1000, then EOF
            writer.write(build_frame(OP_CLOSE, close_payload(1000)))
            rest = await asyncio.wait_for(reader.read(), 10)
            assert rest == b"\x88\x02\x03\xe8", f"expected the close 1000 reply then EOF, got {rest!r}"
        elif mode == 2:  # reset
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # mode 1: drop TCP with a FIN, no close frame
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def _churn(host: str, port: int) -> None:
    for batch in range(0, CHURN_TOTAL, CHURN_BATCH):
        jobs = [
            _churn_one(host, port, upgrade_request_bytes(host, port), i % 3) for i in range(batch, batch + CHURN_BATCH)
        ]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, f"{len(errors)} churn connections of batch {batch // CHURN_BATCH} failed, e.g. {errors[0]!r}"


def test_connection_churn_releases_everything(srv):
    # Warm up allocator and buffer pools with one small round, then take the baseline.
    asyncio.run(asyncio.wait_for(_churn_batch_warmup(srv.host, srv.port), 30))
    fds_before = settled_fd_count(srv)
    time.sleep(0.5)
    rss_before = proc_rss_kib(srv.pid)
    opened_before = metric(srv, "pushwave_connections_opened_total")
    start = time.monotonic()
    run_async(timeout=120)(_churn)(srv.host, srv.port)
    churn_time = time.monotonic() - start
    settle = wait_fds_at_most(srv, fds_before, timeout=5, what=f"{CHURN_TOTAL} connections")
    deadline = time.monotonic() + 1.5
    while True:
        open_now = metric(srv, "pushwave_connections_open")
        if open_now == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    opened = metric(srv, "pushwave_connections_opened_total") - opened_before
    time.sleep(0.5)
    rss_after = proc_rss_kib(srv.pid)
    print(
        f"churn: {CHURN_TOTAL} connections in {churn_time:.1f} s; fds back after {settle:.2f} s; "
        f"RSS before {rss_before} KiB, after {rss_after} KiB ({(rss_after - rss_before) / 1024:+.1f} MiB)"
    )
    assert open_now == 0, f"pushwave_connections_open is {open_now} after every client left"
    assert opened == CHURN_TOTAL, f"pushwave_connections_opened_total grew by {opened}, expected {CHURN_TOTAL}"
    assert rss_after - rss_before < 20 * 1024, f"RSS grew from {rss_before} KiB to {rss_after} KiB over the churn"
    assert_server_recovered(srv, fds_before, "the churn")


async def _churn_batch_warmup(host: str, port: int) -> None:
    await asyncio.gather(*[_churn_one(host, port, upgrade_request_bytes(host, port), i % 3) for i in range(CHURN_BATCH)])


# -- soak ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_soak_short_run_passes(pushwave_bin, tmp_path):
    env = dict(os.environ, PUSHWAVE_BIN=str(pushwave_bin), SOAK_OUTPUT_DIR=str(tmp_path))
    try:
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "soak"), "20"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=45,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scripts/soak 20 did not finish within 45 s\n{exc.stdout}\n{exc.stderr}", pytrace=False)
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, f"scripts/soak 20 failed with status {result.returncode}:\n{output}"
    assert "lost messages: 0" in result.stdout, output
    assert (tmp_path / "rss.csv").is_file(), "scripts/soak wrote no RSS samples"
    samples = (tmp_path / "rss.csv").read_text().splitlines()
    assert len(samples) >= 15, f"only {len(samples) - 1} RSS samples in 20 s"
