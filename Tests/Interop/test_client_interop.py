"""Our client (pushwave-load) against a `websockets` echo server.

The load generator is found through PUSHWAVE_LOAD_BIN (default
.build/debug/pushwave-load). A missing binary fails the test; it is never
skipped.

Expected command line and output:

    pushwave-load echo --url ws://127.0.0.1:PORT/ --connections 10 --size 100 --duration 2 --json

prints one JSON object on stdout (other lines, if any, must go to stderr) with
at least:

    "messages": total echoed messages received (integer, > 0 here)
    "errors":   either an integer, or an object mapping error kinds to counts;
                every count must be 0 here
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading

import pytest
from websockets.asyncio.server import serve

from conftest import free_port

RUN_TIMEOUT = 60


class EchoServerThread:
    """A websockets echo server running its own event loop in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self.port = port or free_port()
        self.connections = 0
        self.messages = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="websockets-echo", daemon=True)

    async def _handler(self, ws):
        self.connections += 1
        async for message in ws:
            self.messages += 1
            await ws.send(message)

    async def _main(self):
        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()
        async with serve(self._handler, self.host, self.port, max_size=16 * 1024 * 1024, ping_interval=None):
            self._ready.set()
            await self._stop

    def _run(self):
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()

    def start(self) -> "EchoServerThread":
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"websockets echo server failed to start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(None))
        self._thread.join(15)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"


@pytest.fixture
def echo_server():
    srv = EchoServerThread().start()
    yield srv
    srv.stop()


def parse_json_output(stdout: str) -> dict:
    text = stdout.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # Tolerate a log line before the JSON object: take the last line that parses.
        for line in reversed(text.splitlines()):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    pytest.fail(f"pushwave-load did not print JSON on stdout:\n{stdout}", pytrace=False)


def error_counts(report: dict) -> dict[str, int]:
    assert "errors" in report, f"JSON report has no 'errors' field: {report}"
    errors = report["errors"]
    if isinstance(errors, bool) or not isinstance(errors, (int, dict)):
        pytest.fail(f"'errors' must be an integer or an object of counts, got {errors!r}", pytrace=False)
    return {"errors": errors} if isinstance(errors, int) else dict(errors)


def test_load_client_against_websockets_echo_server(pushwave_load_bin, echo_server):
    cmd = [
        str(pushwave_load_bin),
        "echo",
        "--url", echo_server.url,
        "--connections", "10",
        "--size", "100",
        "--duration", "2",
        "--json",
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} did not finish within {RUN_TIMEOUT} s\nstderr:\n{exc.stderr}", pytrace=False)

    assert proc.returncode == 0, f"{' '.join(cmd)} exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    report = parse_json_output(proc.stdout)

    counts = error_counts(report)
    assert all(v == 0 for v in counts.values()), f"errors reported: {counts}\nfull report: {report}"

    assert isinstance(report.get("messages"), int), f"JSON report has no integer 'messages' field: {report}"
    assert report["messages"] > 0, f"no messages were echoed: {report}"

    # Cross-check with what the websockets server actually saw.
    assert echo_server.connections >= 10, f"server saw only {echo_server.connections} connections"
    assert echo_server.messages > 0
    assert report["messages"] <= echo_server.messages, (
        f"client claims {report['messages']} echoes but the server echoed only {echo_server.messages}"
    )
