"""`pushwave --processes N`: workers sharing one port (SO_REUSEPORT) under a supervisor that
restarts a dead worker, passes signals on, and stops when a worker cannot start; /metrics on
the shared port sums every worker's figures, whichever worker answers; with --redis a
publish on one worker reaches the subscribers of all of them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import ServerProcess, free_port, http_get
from test_redis import RedisServer, wait_for
from wsutil import close_code, run_async


def workers_of(supervisor_pid: int) -> list[int]:
    """The supervisor's children, from /proc (its workers)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == supervisor_pid:
            children.append(int(entry))
    return sorted(children)


def sockets_of(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


@pytest.fixture
def three_workers(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--processes", "3"], tmp_path / "server.log")
    srv.wait_healthy()
    wait_for(lambda: len(workers_of(srv.pid)) == 3, 20, "three workers")
    yield srv
    srv.stop()


@run_async(timeout=120)
async def test_connections_spread_over_the_workers_and_a_dead_worker_is_replaced(three_workers):
    srv = three_workers
    workers = workers_of(srv.pid)
    baseline = {pid: sockets_of(pid) for pid in workers}
    clients = [await connect(srv.ws_url("/echo"), compression=None, ping_interval=None).__aenter__() for _ in range(90)]
    try:
        for index, ws in enumerate(clients):
            await ws.send(f"m{index}")
            assert await ws.recv() == f"m{index}"
        # Health checks may still be closing: a few sockets more than the clients' are fine.
        held = {pid: sockets_of(pid) - baseline[pid] for pid in workers}
        assert 90 <= sum(held.values()) <= 95, held
        assert sum(1 for count in held.values() if count > 0) >= 2, f"the kernel gave every connection to one worker: {held}"

        # A worker killed: its clients lose their connection, the others keep theirs, and the
        # supervisor starts a new worker.
        victim = max(held, key=held.get)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(workers_of(srv.pid)) == 3 and victim not in workers_of(srv.pid), 20, "a new worker")
        survivors = 0
        for index, ws in enumerate(clients):
            try:
                await ws.send(f"again{index}")
                assert await asyncio.wait_for(ws.recv(), 5) == f"again{index}"
                survivors += 1
            except ConnectionClosed:
                pass
        assert 90 - held[victim] <= survivors < 90, (survivors, held)
        assert "worker" in srv.log_tail() and "died; restarting" in srv.log_tail()
        async with connect(srv.ws_url("/echo"), compression=None) as fresh:
            await fresh.send("after")
            assert await fresh.recv() == "after"
    finally:
        await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)


def scrape(srv: ServerProcess) -> dict[str, float]:
    """/metrics on the shared port (a new connection each time, so the kernel picks a worker
    each time), parsed as Prometheus does: every label-free sample by name, and the
    per-worker connections as "worker:I"."""
    status, _, body = http_get(srv.host, srv.port, "/metrics")
    assert status == 200, status
    metrics = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if not sample.labels:
                metrics[sample.name] = sample.value
            elif sample.name == "pushwave_worker_connections_open":
                metrics[f"worker:{sample.labels['worker']}"] = sample.value
    return metrics


def per_worker(metrics: dict[str, float]) -> dict[str, float]:
    return {name: value for name, value in metrics.items() if name.startswith("worker:")}


def wait_for_metrics(srv: ServerProcess, wanted: dict[str, float], timeout: float = 10) -> dict[str, float]:
    """Scrapes until the samples in `wanted` have those values (the other workers' figures are
    up to half a second old)."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = scrape(srv)
        if all(metrics.get(name) == value for name, value in wanted.items()):
            return metrics
        if time.monotonic() > deadline:
            raise AssertionError(f"/metrics never showed {wanted}: {({name: metrics.get(name) for name in wanted})}")
        time.sleep(0.1)


def steady_metric(srv: ServerProcess, name: str, timeout: float = 10) -> float:
    """A sample's value once two scrapes a second apart agree and every worker reports."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        metrics = scrape(srv)
        if metrics.get("pushwave_metrics_workers_missing") == 0 and metrics.get(name) == last:
            return last
        last = metrics.get(name) if metrics.get("pushwave_metrics_workers_missing") == 0 else None
        time.sleep(1)
    raise AssertionError(f"{name} did not settle")


@run_async(timeout=120)
async def test_metrics_on_the_shared_port_sum_every_worker_whichever_answers(three_workers):
    srv = three_workers
    workers = workers_of(srv.pid)
    baseline = {pid: sockets_of(pid) for pid in workers}
    clients = [await connect(srv.ws_url("/echo"), compression=None, ping_interval=None).__aenter__() for _ in range(30)]
    try:
        for round in range(4):
            for index, ws in enumerate(clients):
                await ws.send(f"m{round}-{index}")
                assert await ws.recv() == f"m{round}-{index}"
        held = {pid: sockets_of(pid) - baseline[pid] for pid in workers}
        assert sum(1 for count in held.values() if count > 0) >= 2, f"the kernel gave every connection to one worker: {held}"

        # Once the other workers' files are fresh, every scrape shows the server's totals: with
        # the connections on two or three workers, 30 can only be a sum. Twelve scrapes on new
        # connections reach more than one worker (all on one: 3 × (1/3)^12).
        totals = {"pushwave_connections_open": 30, "pushwave_messages_received_total": 120,
                  "pushwave_messages_sent_total": 120, "pushwave_workers": 3, "pushwave_metrics_workers_missing": 0}
        wait_for_metrics(srv, totals)
        spread = per_worker(scrape(srv))
        assert sorted(spread) == ["worker:0", "worker:1", "worker:2"] and sum(spread.values()) == 30, spread
        assert sum(1 for count in spread.values() if count > 0) >= 2, spread
        for _ in range(12):
            metrics = scrape(srv)
            assert {name: metrics.get(name) for name in totals} == totals
            assert per_worker(metrics) == spread

        # A worker killed: its clients are gone, the supervisor starts another, and the totals
        # follow: the survivors' connections, then all 30 again once the lost ones reconnect.
        victim = max(held, key=held.get)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(workers_of(srv.pid)) == 3 and victim not in workers_of(srv.pid), 20, "a new worker")
        lost = []
        for index, ws in enumerate(clients):
            try:
                await ws.send(f"probe{index}")
                assert await asyncio.wait_for(ws.recv(), 5) == f"probe{index}"
            except ConnectionClosed:
                lost.append(index)
        assert 0 < len(lost) < 30, lost
        wait_for_metrics(srv, {"pushwave_connections_open": 30 - len(lost), "pushwave_workers": 3,
                               "pushwave_metrics_workers_missing": 0})
        for index in lost:
            clients[index] = await connect(srv.ws_url("/echo"), compression=None, ping_interval=None).__aenter__()
        received = steady_metric(srv, "pushwave_messages_received_total")
        for index, ws in enumerate(clients):
            await ws.send(f"after{index}")
            assert await ws.recv() == f"after{index}"
        wait_for_metrics(srv, {"pushwave_connections_open": 30, "pushwave_messages_received_total": received + 30,
                               "pushwave_metrics_workers_missing": 0})
        for _ in range(6):
            metrics = scrape(srv)
            assert metrics["pushwave_connections_open"] == 30 and metrics["pushwave_messages_received_total"] == received + 30
    finally:
        await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)


def test_the_metrics_directory_is_private_and_removed_on_exit(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--processes", "2"], tmp_path / "server.log")
    srv.wait_healthy()
    wait_for(lambda: len(workers_of(srv.pid)) == 2, 20, "two workers")
    worker = workers_of(srv.pid)[0]
    with open(f"/proc/{worker}/cmdline", "rb") as cmdline:
        arguments = cmdline.read().decode().split("\0")
    directory = arguments[arguments.index("--metrics-directory") + 1]
    assert os.stat(directory).st_mode & 0o777 == 0o700
    wait_for(lambda: sorted(os.listdir(directory)) == ["worker-0.prom", "worker-1.prom"], 10, "both workers' files")
    srv.stop()
    assert not os.path.exists(directory)


@run_async(timeout=60)
async def test_sigterm_drains_every_worker_and_exits_0(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--processes", "2"], tmp_path / "server.log")
    srv.wait_healthy()
    wait_for(lambda: len(workers_of(srv.pid)) == 2, 20, "two workers")
    workers = workers_of(srv.pid)
    clients = [await connect(srv.ws_url("/echo"), compression=None, ping_interval=None).__aenter__() for _ in range(20)]
    os.kill(srv.pid, signal.SIGTERM)

    assert await asyncio.gather(*(close_code(ws) for ws in clients)) == [1001] * 20
    assert srv.proc.wait(timeout=20) == 0
    srv.stopped = True
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}/stat") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]


def test_a_worker_that_cannot_start_ends_the_server(pushwave_bin, tmp_path):
    # The port is held by a listener that does not share it: no worker can bind.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        result = subprocess.run([str(pushwave_bin), "--port", str(port), "--processes", "2"],
                                capture_output=True, text=True, timeout=30)
    finally:
        blocker.close()
    assert result.returncode == 1, result.stderr
    assert "already in use" in result.stderr and "could not start" in result.stderr


def test_processes_need_a_fixed_port(pushwave_bin):
    result = subprocess.run([str(pushwave_bin), "--port", "0", "--processes", "2"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "--processes needs a fixed --port" in result.stderr


@pytest.mark.skipif(subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0,
                    reason="redis-server is not installed")
@run_async(timeout=120)
async def test_with_redis_a_publish_reaches_the_subscribers_of_every_worker(pushwave_bin, tmp_path):
    redis = RedisServer(tmp_path)
    srv = ServerProcess(pushwave_bin, ["--processes", "3", "--redis", redis.url], tmp_path / "server.log")
    try:
        srv.wait_healthy()
        wait_for(lambda: len(workers_of(srv.pid)) == 3, 20, "three workers")
        workers = workers_of(srv.pid)
        baseline = {pid: sockets_of(pid) for pid in workers}
        subscribers = [await connect(srv.ws_url("/topics/all"), compression=None, ping_interval=None).__aenter__()
                       for _ in range(60)]
        held = {pid: sockets_of(pid) - baseline[pid] for pid in workers}
        assert sum(1 for count in held.values() if count > 0) >= 2, held
        # Each worker subscribes the channel once it has a subscriber.
        wait_for(lambda: redis.numsub("pushwave:all") == sum(1 for c in held.values() if c > 0), 10, "one subscription per worker")
        for index in range(5):
            await subscribers[index].send(f"from-{index}")
        orders = set()
        for ws in subscribers:
            got = [await asyncio.wait_for(ws.recv(), 10) for _ in range(5)]
            assert sorted(got) == sorted(f"from-{index}" for index in range(5))
            orders.add(tuple(got))
        assert len(orders) == 1, f"one order per topic on every worker: {orders}"
        await asyncio.gather(*(ws.close() for ws in subscribers), return_exceptions=True)
    finally:
        srv.stop()
        redis.stop()


@pytest.mark.skipif(subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0,
                    reason="redis-server is not installed")
def test_healthz_counts_the_redis_connections_of_every_worker(pushwave_bin, tmp_path):
    redis = RedisServer(tmp_path)
    srv = ServerProcess(pushwave_bin, ["--processes", "3", "--redis", redis.url], tmp_path / "server.log")
    try:
        srv.wait_healthy()
        wait_for(lambda: len(workers_of(srv.pid)) == 3, 20, "three workers")
        wait_for_metrics(srv, {"pushwave_redis_connections_down": 0, "pushwave_metrics_workers_missing": 0})
        # Each worker has two Redis connections: whichever worker answers, the server has six down.
        redis.kill()
        wait_for(lambda: http_get(srv.host, srv.port, "/healthz")[::2] == (503, b"degraded: 6 Redis connections are down\n"),
                 10, "/healthz to count every worker's connections")
        for _ in range(6):
            assert http_get(srv.host, srv.port, "/healthz")[::2] == (503, b"degraded: 6 Redis connections are down\n")
        assert scrape(srv)["pushwave_redis_connections_down"] == 6
        redis.start()
        wait_for(lambda: http_get(srv.host, srv.port, "/healthz")[::2] == (200, b"ok\n"), 15, "/healthz ok again")
    finally:
        srv.stop()
        redis.stop()
