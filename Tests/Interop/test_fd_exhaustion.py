"""The server with few file descriptors: more clients than fit.

* Started with a low open-file limit (soft and hard, since the server raises its soft limit
  to the hard one), the server caps --max-connections to what the limit allows and answers
  the rest 503.
* With the limit lowered under a running server (so that its connection cap is far above
  what the descriptors allow), accept() fails with EMFILE: the server must pause accepting
  without spinning (CPU time stays flat), log it once, keep serving the clients it has, and
  resume by itself once descriptors are free again.

Every client is a raw socket held open by the test; all are closed at the end.
"""

from __future__ import annotations

import resource
import select
import time

import pytest

from conftest import ServerProcess
from wsutil import OP_TEXT, RawWebSocket, proc_cpu_seconds, proc_fd_count, upgrade_request_bytes

CLIENTS = 400
CPU_WINDOW = 3.0
CPU_BUDGET = 0.3  # seconds of server CPU allowed over CPU_WINDOW while saturated


def _raise_own_nofile_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    assert hard >= CLIENTS + 200, f"the test process needs {CLIENTS + 200} descriptors, hard limit is {hard}"


def _echo(ws: RawWebSocket, text: str) -> None:
    payload = text.encode()
    ws.send_frame(OP_TEXT, payload)
    got = ws.recv_message(timeout=5)
    assert got == (OP_TEXT, payload), f"bad echo {got!r}"


def _cpu_over_window(pid: int) -> float:
    before = proc_cpu_seconds(pid)
    time.sleep(CPU_WINDOW)
    return proc_cpu_seconds(pid) - before


def _new_clients_echo(srv: ServerProcess, count: int, within: float) -> float:
    """`count` new clients connect and echo; retried until `within` seconds pass. Returns the time taken."""
    start = time.monotonic()
    deadline = start + within
    last_error: BaseException | None = None
    done: list[RawWebSocket] = []
    try:
        while len(done) < count:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"only {len(done)} of {count} new clients could connect and echo within {within:.0f} s "
                    f"(last error: {last_error!r})\n--- server log ---\n{srv.log_tail()}",
                    pytrace=False,
                )
            ws = RawWebSocket(srv.host, srv.port, "/echo", timeout=1.0)
            try:
                ws.connect()
                _echo(ws, f"new client {len(done)}")
                done.append(ws)
            except (AssertionError, OSError, TimeoutError) as exc:
                last_error = exc
                ws.close_socket()
                time.sleep(0.1)
        return time.monotonic() - start
    finally:
        for ws in done:
            ws.close_socket()


def test_low_open_file_limit_caps_connections_and_recovers(pushwave_bin, tmp_path):
    _raise_own_nofile_limit()
    limit = 200

    def lower_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    srv = ServerProcess(pushwave_bin, [], tmp_path / "server.log", preexec_fn=lower_limit)
    clients: list[RawWebSocket] = []
    try:
        srv.wait_healthy()
        assert resource.prlimit(srv.pid, resource.RLIMIT_NOFILE) == (limit, limit)
        statuses: list[int | str] = []
        for _ in range(CLIENTS):
            ws = RawWebSocket(srv.host, srv.port, "/echo", timeout=5)
            clients.append(ws)
            try:
                status, _ = ws.request_upgrade()
                statuses.append(status)
            except (OSError, TimeoutError, AssertionError) as exc:
                statuses.append(repr(exc))
        accepted = statuses.count(101)
        refused = statuses.count(503)
        others = [s for s in statuses if s not in (101, 503)]
        print(f"limit {limit}: {accepted} upgraded, {refused} refused with 503, fds {proc_fd_count(srv.pid)}")
        assert not others, f"clients beyond the limit got neither 101 nor 503: {others[:5]}"
        assert 100 <= accepted < limit, f"{accepted} of {CLIENTS} clients upgraded with an open-file limit of {limit}"
        assert statuses[:accepted] == [101] * accepted, "a client was refused before the limit was reached"

        for i, ws in enumerate(clients[:20]):
            _echo(ws, f"early client {i}")
        cpu = _cpu_over_window(srv.pid)
        print(f"limit {limit}: server CPU {cpu:.3f} s over {CPU_WINDOW:.0f} s while at capacity")
        assert cpu < CPU_BUDGET, f"server used {cpu:.2f} s of CPU in {CPU_WINDOW:.0f} s while at capacity"
        srv.assert_alive()

        for ws in clients[:200]:
            ws.close_socket()
        took = _new_clients_echo(srv, 20, within=5)
        print(f"limit {limit}: 20 new clients echoed {took:.2f} s after 200 clients left")
    finally:
        for ws in clients:
            ws.close_socket()
        srv.stop()


def test_descriptor_exhaustion_pauses_accept_without_spinning(pushwave_bin, tmp_path):
    _raise_own_nofile_limit()
    limit = 300
    srv = ServerProcess(pushwave_bin, [], tmp_path / "server.log")
    clients: list[RawWebSocket] = []
    try:
        srv.wait_healthy()
        # Lowered under the running server: its connection cap (computed at startup from the
        # 20000-descriptor limit) is now far above what it can open, so accept() hits EMFILE.
        resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (limit, limit))
        base_fds = proc_fd_count(srv.pid)

        saturated_at = time.monotonic()
        # Every client connects (the kernel completes the TCP handshake into the backlog) and
        # sends its upgrade request; the server can accept only about limit - base_fds of them.
        for _ in range(CLIENTS):
            ws = RawWebSocket(srv.host, srv.port, "/echo", timeout=5)
            ws.open_tcp()
            ws.sock.sendall(upgrade_request_bytes(srv.host, srv.port))
            clients.append(ws)
        upgraded = _collect_upgrades(clients, set(), within=3.0)
        pending = [ws for ws in clients if id(ws) not in upgraded]
        fds = proc_fd_count(srv.pid)
        print(f"limit {limit}: {len(upgraded)} upgraded, {len(pending)} waiting in the backlog, server fds {fds} (base {base_fds})")
        assert fds <= limit, f"the server holds {fds} descriptors with a limit of {limit}"
        assert len(upgraded) >= limit - base_fds - 10, f"only {len(upgraded)} clients upgraded with {limit} descriptors"
        assert len(pending) >= CLIENTS - limit, f"{len(upgraded)} clients upgraded with {limit} descriptors"
        log = srv.log_path.read_text(errors="replace")
        assert "out of file descriptors" in log, f"no EMFILE message in the log:\n{srv.log_tail()}"

        early = [ws for ws in clients if id(ws) in upgraded][:20]
        for i, ws in enumerate(early):
            _echo(ws, f"early client {i}")
        cpu = _cpu_over_window(srv.pid)
        print(f"limit {limit}: server CPU {cpu:.3f} s over {CPU_WINDOW:.0f} s while out of descriptors")
        assert cpu < CPU_BUDGET, f"server used {cpu:.2f} s of CPU in {CPU_WINDOW:.0f} s while out of descriptors (busy loop?)"
        for i, ws in enumerate(early):
            _echo(ws, f"early client {i} while saturated")
        srv.assert_alive()
        # One exhaustion episode so far: checked at the end, after the recovery checks.
        warnings_while_saturated = srv.log_path.read_text(errors="replace").count("out of file descriptors")
        saturated_for = time.monotonic() - saturated_at

        # Recovery: 200 upgraded clients leave; the server accepts the waiting ones (whose
        # requests are in their sockets already) and then brand-new clients.
        leaving = [ws for ws in clients if id(ws) in upgraded][:200]
        for ws in leaving:
            ws.close_socket()
        start = time.monotonic()
        upgraded |= _collect_upgrades(pending, set(), within=5.0)
        still = [ws for ws in pending if id(ws) not in upgraded]
        assert not still, f"{len(still)} waiting clients were not accepted within 5 s of 200 clients leaving"
        took = time.monotonic() - start
        took_new = _new_clients_echo(srv, 20, within=5)
        print(f"limit {limit}: backlog accepted {took:.2f} s after 200 clients left; 20 new clients echoed within {took_new:.2f} s more")
        log = srv.log_path.read_text(errors="replace")
        assert "accepting again" in log, f"no resume message in the log:\n{srv.log_tail()}"
        for i, ws in enumerate(pending[:20]):
            _echo(ws, f"formerly waiting client {i}")
        assert warnings_while_saturated == 1, (
            f"the EMFILE pause was logged {warnings_while_saturated} times during one episode "
            f"of {saturated_for:.1f} s, expected once"
        )
    finally:
        for ws in clients:
            ws.close_socket()
        srv.stop()


def _collect_upgrades(clients: list[RawWebSocket], done: set[int], within: float) -> set[int]:
    """Reads the upgrade responses that arrive within `within` seconds; returns the ids of the
    clients that got 101 (anything else fails)."""
    by_fd = {ws.sock.fileno(): ws for ws in clients if ws.sock is not None}
    deadline = time.monotonic() + within
    while len(done) < len(by_fd) and time.monotonic() < deadline:
        waiting = [fd for fd, ws in by_fd.items() if id(ws) not in done]
        poller = select.poll()
        for fd in waiting:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(max(0, int((deadline - time.monotonic()) * 1000))):
            ws = by_fd[fd]
            chunk = ws.sock.recv(4096)
            assert chunk, "the server closed a connection instead of answering its upgrade"
            ws.buf += chunk
            if b"\r\n\r\n" in ws.buf:
                head, _, rest = bytes(ws.buf).partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 101"), f"upgrade answered {head[:60]!r}"
                ws.buf = bytearray(rest)
                done.add(id(ws))
    return done
