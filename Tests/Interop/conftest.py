"""Shared fixtures for the interop tests.

The tests run against the real server executable. It is found through the
environment variable PUSHWAVE_BIN (default: .build/debug/pushwave relative to
the repository root), started on a free loopback port, polled on /healthz
until it answers, and stopped by PID at the end (SIGTERM, then SIGKILL).
A server that crashed or did not stop on SIGTERM fails the test.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

INTEROP_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEROP_DIR.parent.parent
ARTIFACTS_DIR = INTEROP_DIR / "artifacts"

STARTUP_TIMEOUT = float(os.environ.get("PUSHWAVE_STARTUP_TIMEOUT", "20"))
SHUTDOWN_TIMEOUT = float(os.environ.get("PUSHWAVE_SHUTDOWN_TIMEOUT", "10"))

# Exit statuses accepted after SIGTERM: a clean exit, or death by the signal we sent.
_CLEAN_EXITS = {0, -signal.SIGTERM, 128 + signal.SIGTERM}


def resolve_binary(env_var: str, default_relative: str) -> Path:
    """Path of an executable from `env_var`, or `default_relative` under the repo root.

    Fails (never skips) when the file is missing, so that an unbuilt binary
    cannot make the suite look green.
    """
    raw = os.environ.get(env_var)
    path = Path(raw) if raw else REPO_ROOT / default_relative
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.fail(
            f"{env_var}: executable not found at {path}. "
            f"Build it first (swift build) or set {env_var} to its path.",
            pytrace=False,
        )
    if not os.access(path, os.X_OK):
        pytest.fail(f"{env_var}: {path} is not executable", pytrace=False)
    return path


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(host: str, port: int, path: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, body
    finally:
        conn.close()


class ServerProcess:
    """One running server instance."""

    def __init__(self, binary: Path, extra_args: list[str], log_path: Path, port: int | None = None, preexec_fn=None):
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = port if port is not None else free_port()
        self.args = [str(binary), "--host", self.host, "--port", str(self.port), *extra_args]
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            preexec_fn=preexec_fn,  # e.g. to lower resource limits of the server only
        )
        self.stopped = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"

    def log_tail(self, max_bytes: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        text = data[-max_bytes:].decode("utf-8", "replace")
        return text if text.strip() else "(empty log)"

    def describe(self) -> str:
        return f"{' '.join(self.args)} (pid {self.pid})"

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                pytest.fail(
                    f"server exited during startup with status {code}: {self.describe()}\n"
                    f"--- server log ---\n{self.log_tail()}",
                    pytrace=False,
                )
            try:
                status, _, _ = http_get(self.host, self.port, "/healthz", timeout=1.0)
                if status == 200:
                    return
                last_error = RuntimeError(f"/healthz answered {status}")
            except OSError as exc:
                last_error = exc
            time.sleep(0.05)
        self.stop(check=False)
        pytest.fail(
            f"server did not answer GET /healthz with 200 within {timeout:.0f} s "
            f"(last error: {last_error}): {self.describe()}\n--- server log ---\n{self.log_tail()}",
            pytrace=False,
        )

    def assert_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            pytest.fail(
                f"server crashed (exit status {code}): {self.describe()}\n"
                f"--- server log ---\n{self.log_tail()}",
                pytrace=False,
            )

    def stop(self, check: bool = True) -> str | None:
        """Stop the server by PID: SIGTERM, then SIGKILL after SHUTDOWN_TIMEOUT.

        Returns a description of what went wrong (the server had already died,
        exited abnormally, or had to be killed), or None. With `check`, such a
        problem fails the current test.
        """
        if self.stopped:
            return None
        self.stopped = True
        problems = []
        early = self.proc.poll()
        if early is not None:
            problems.append(f"server had already exited with status {early} before shutdown (crash)")
        else:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=SHUTDOWN_TIMEOUT)
                if code not in _CLEAN_EXITS:
                    problems.append(f"server exited with status {code} after SIGTERM")
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                problems.append(f"server did not exit within {SHUTDOWN_TIMEOUT:.0f} s of SIGTERM; killed")
        self._log.close()
        if not problems:
            return None
        message = "; ".join(problems) + f": {self.describe()}\n--- server log ---\n{self.log_tail()}"
        if check:
            pytest.fail(message, pytrace=False)
        return message


@pytest.fixture(scope="session")
def pushwave_bin() -> Path:
    return resolve_binary("PUSHWAVE_BIN", ".build/debug/pushwave")


@pytest.fixture(scope="session")
def pushwave_load_bin() -> Path:
    return resolve_binary("PUSHWAVE_LOAD_BIN", ".build/debug/pushwave-load")


class SharedServer:
    """The server of one test module (default options unless `args` are given); replaced
    if a test crashed it."""

    def __init__(self, binary: Path, log_dir: Path, args: list[str] | None = None, name: str = "server"):
        self.binary = binary
        self.log_dir = log_dir
        self.args = args or []
        self.name = name
        self.generation = 0
        self.current: ServerProcess | None = None

    def get(self) -> ServerProcess:
        if self.current is not None and self.current.proc.poll() is not None:
            # Already reported by the test that crashed it; start afresh.
            self.current.stop(check=False)
            self.current = None
        if self.current is None:
            self.generation += 1
            self.current = ServerProcess(self.binary, self.args, self.log_dir / f"{self.name}-{self.generation}.log")
            self.current.wait_healthy()
        return self.current

    def stop(self) -> str | None:
        return self.current.stop(check=False) if self.current is not None else None


@pytest.fixture(scope="module")
def _module_server(pushwave_bin, tmp_path_factory):
    shared = SharedServer(pushwave_bin, tmp_path_factory.mktemp("server"))
    yield shared
    problem = shared.stop()
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def server(_module_server) -> ServerProcess:
    """A running server with default options, shared by the tests of one module.

    A test after which the server is no longer running fails; the next test
    gets a fresh server.
    """
    srv = _module_server.get()
    yield srv
    srv.assert_alive()


@pytest.fixture
def base_url(server) -> str:
    """Base URL (http://127.0.0.1:PORT) of a running server."""
    return server.base_url


@pytest.fixture
def start_server(pushwave_bin, tmp_path):
    """Factory: start an extra server instance with additional command-line options
    (and optionally a given port, e.g. to restart a server where it was).

    Every instance started is stopped (and checked) when the test ends.
    """
    started: list[ServerProcess] = []

    def _start(*extra_args: str, port: int | None = None) -> ServerProcess:
        srv = ServerProcess(pushwave_bin, list(extra_args), tmp_path / f"server-{len(started)}.log", port=port)
        started.append(srv)
        srv.wait_healthy()
        return srv

    yield _start
    problems = [p for p in (srv.stop(check=False) for srv in started) if p]
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes several seconds by design (timeouts, soak runs)")
