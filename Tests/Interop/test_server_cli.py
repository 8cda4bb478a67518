"""The pushwave executable end to end: fan-out on /chat across loops, /metrics, graceful
shutdown, and command-line errors."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time

import pytest
from websockets.asyncio.client import connect

from conftest import ServerProcess, free_port, http_get
from wsutil import close_code, run_async


@pytest.fixture
def two_loop_server(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--threads", "2"], tmp_path / "server.log")
    srv.wait_healthy()
    yield srv
    srv.stop()


def client(srv, path):
    return connect(srv.ws_url(path), compression=None, open_timeout=20, ping_interval=None, close_timeout=5)


@run_async(timeout=120)
async def test_chat_fanout_to_1000_clients_exactly_once_in_order(two_loop_server):
    srv = two_loop_server
    subscribers = [await client(srv, "/chat").__aenter__() for _ in range(1000)]
    try:
        # A probe from the last client reaching the first proves every earlier one subscribed.
        await subscribers[-1].send("ready")
        for ws in subscribers:
            assert await asyncio.wait_for(ws.recv(), 20) == "ready"
        publishers, per_publisher = 3, 20
        for seq in range(per_publisher):
            for p in range(publishers):
                await subscribers[p].send(f"p{p}-{seq}")

        async def collect(ws):
            seen = []
            while len(seen) < publishers * per_publisher:
                seen.append(await asyncio.wait_for(ws.recv(), 20))
            return seen

        results = await asyncio.gather(*(collect(ws) for ws in subscribers))
        for seen in results:
            assert sorted(seen) == sorted(f"p{p}-{s}" for p in range(publishers) for s in range(per_publisher))
            for p in range(publishers):
                mine = [m for m in seen if m.startswith(f"p{p}-")]
                assert mine == [f"p{p}-{s}" for s in range(per_publisher)], "publish order per publisher"
    finally:
        await asyncio.gather(*(ws.close() for ws in subscribers), return_exceptions=True)


def metric(srv, name: str) -> int:
    status, _, body = http_get(srv.host, srv.port, "/metrics")
    assert status == 200
    # Gauges are written as floating-point numbers ("3.0"), counters as integers.
    match = re.search(rf"^{name} ([0-9.eE+]+)$", body.decode(), re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return int(float(match.group(1)))


@run_async
async def test_metrics_counters_move(two_loop_server):
    srv = two_loop_server
    before = metric(srv, "pushwave_messages_received_total")
    opened_before = metric(srv, "pushwave_connections_opened_total")
    async with client(srv, "/echo") as ws:
        for i in range(10):
            await ws.send(f"m{i}")
            await ws.recv()
        await asyncio.sleep(0.6)  # other loops publish their counters every 250 ms
        assert metric(srv, "pushwave_connections_open") >= 1
    await asyncio.sleep(0.6)
    assert metric(srv, "pushwave_messages_received_total") >= before + 10
    assert metric(srv, "pushwave_connections_opened_total") >= opened_before + 1
    status, _, _ = http_get(srv.host, srv.port, "/echo")  # a plain GET on a WebSocket path
    assert status == 426
    await asyncio.sleep(0.6)
    _, _, body = http_get(srv.host, srv.port, "/metrics")
    assert re.search(r'^pushwave_handshake_failures_total\{status="426"\} [1-9]', body.decode(), re.MULTILINE)


@run_async(timeout=60)
async def test_sigterm_sends_1001_to_every_client_and_exits_0(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--threads", "2"], tmp_path / "server.log")
    srv.wait_healthy()
    clients = [await client(srv, "/echo").__aenter__() for _ in range(50)]
    for ws in clients:
        await ws.send("hi")
        assert await ws.recv() == "hi"
    os.kill(srv.pid, signal.SIGTERM)

    codes = await asyncio.gather(*(close_code(ws) for ws in clients))
    assert codes == [1001] * 50
    assert srv.proc.wait(timeout=10) == 0
    srv.stopped = True
    assert "stopped" in srv.log_tail()


def test_a_second_sigterm_exits_at_once_with_status_1(pushwave_bin, tmp_path):
    """The first SIGTERM drains (a client that never answers the close keeps the server
    waiting up to --shutdown-timeout); a second one ends the process at once."""
    srv = ServerProcess(pushwave_bin, ["--shutdown-timeout", "60"], tmp_path / "server.log")
    srv.wait_healthy()
    silent = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        silent.sendall(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert silent.recv(12) == b"HTTP/1.1 101"
        os.kill(srv.pid, signal.SIGTERM)
        # The close frame (0x88) with 1001 arrives; the client never answers it.
        deadline = time.monotonic() + 10
        received = b""
        while (b"\x88" not in received or len(received) - received.index(b"\x88") < 4) and time.monotonic() < deadline:
            received += silent.recv(256)
        frame = received[received.index(b"\x88"):]
        assert frame[2:4] == b"\x03\xe9", received  # status 1001 after the 2-byte header
        time.sleep(0.5)
        assert srv.proc.poll() is None, "the server stopped before its shutdown timeout"
        started = time.monotonic()
        os.kill(srv.pid, signal.SIGTERM)
        assert srv.proc.wait(timeout=10) == 1
        assert time.monotonic() - started < 5
        srv.stopped = True
        assert "second signal" in srv.log_tail()
    finally:
        silent.close()


def test_raw_echo_stops_on_sigint(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--raw-echo"], tmp_path / "server.log")
    time.sleep(0.5)
    deadline = time.monotonic() + 20
    while "listening" not in srv.log_tail() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(srv.pid, signal.SIGINT)
    assert srv.proc.wait(timeout=10) == 0
    srv.stopped = True
    assert "stopped" in srv.log_tail()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "70000"], "--port"),
        (["--threads", "0"], "--threads"),
        (["--max-message-size", "0"], "--max-message-size"),
        (["--log-level", "loud"], "--log-level"),
        (["--no-such-option"], "no-such-option"),
    ],
)
def test_bad_options_are_rejected(pushwave_bin, args, message):
    result = subprocess.run([str(pushwave_bin), *args], capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert message in result.stderr


def test_port_in_use_is_a_clear_error(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, [], tmp_path / "first.log")
    srv.wait_healthy()
    try:
        started = time.monotonic()
        result = subprocess.run(
            [str(pushwave_bin), "--port", str(srv.port)], capture_output=True, text=True, timeout=20)
        assert result.returncode != 0
        assert "already in use" in result.stderr
        assert time.monotonic() - started < 10
    finally:
        srv.stop()
