"""The Redis backplane: several pushwave processes joined through one redis-server.

Every test starts its own redis-server on a free loopback port (no persistence) and stops it
by PID. Checked: every message reaches every subscriber on every node exactly once, in the
same order everywhere, whichever node (and API) published it; each node subscribes to a
topic's channel once; and after redis-server dies (SIGKILL) and comes back on the same port,
the nodes reconnect and resubscribe by themselves.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest
from websockets.asyncio.client import connect

from conftest import free_port
from conftest import http_get
from pushutil import API, write_secrets

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


class RedisServer:
    def __init__(self, log_dir, persistent: bool = False, port: int | None = None):
        self.port = port or free_port()
        self.log_dir = log_dir
        # Persistent: an append-only file synced before every reply, so that a restart after
        # SIGKILL brings back every message any client saw.
        self.extra = ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(log_dir)] if persistent else ["--appendonly", "no"]
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = open(self.log_dir / f"redis-{self.port}.log", "ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *self.extra],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "PONG":
                    return
            except (OSError, subprocess.CalledProcessError):
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def command(self, *args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], check=True, capture_output=True,
                              text=True, timeout=5).stdout.strip()

    def numsub(self, channel: str) -> int:
        return int(self.command("PUBSUB", "NUMSUB", channel).split("\n")[1])

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(5)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def nodes(start_server, redis, tmp_path):
    keys, _ = write_secrets(tmp_path)
    return [start_server("--api-key-file", str(keys), "--redis", redis.url, "--threads", "2") for _ in range(3)]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def subscriber(node, topic: str):
    ws = await connect(node.ws_url("/ws"), max_size=None)
    await ws.send(json.dumps({"op": "subscribe", "topic": topic}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply["op"] == "subscribed", reply
    return ws


async def messages(ws, count: int, timeout: float = 10) -> list[dict]:
    received = []
    while len(received) < count:
        reply = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        assert reply["op"] == "message", reply
        received.append(reply)
    return received


async def ws_publish(ws, topic: str, data) -> None:
    await ws.send(json.dumps({"op": "publish", "topic": topic, "data": data}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply == {"op": "published", "topic": topic}, reply


def api_publish(api: API, topic: str, data) -> None:
    status, _, reply = api.call("POST", f"/api/publish/{topic}", json.dumps(data).encode())
    assert status == 202, (status, reply)
    assert json.loads(reply) == {"topic": topic, "forwarded": True}


async def publish_everywhere(nodes, apis, publishers, topic: str, start: int, count: int) -> list[int]:
    sent = []
    for n in range(start, start + count):
        index = n % len(nodes)
        if n % 2:
            await ws_publish(publishers[index], topic, {"n": n})
        else:
            api_publish(apis[index], topic, {"n": n})
        sent.append(n)
    return sent


def test_every_message_reaches_every_node_once_in_one_order(nodes, redis):
    async def main():
        # Two subscribers on the first node: still one Redis subscription per node.
        subscribers = [await subscriber(node, "news") for node in nodes] + [await subscriber(nodes[0], "news")]
        wait_for(lambda: redis.numsub("pushwave:news") == len(nodes), 10, "one subscription per node")
        publishers = [await connect(node.ws_url("/ws")) for node in nodes]
        apis = [API(node) for node in nodes]
        sent = await publish_everywhere(nodes, apis, publishers, "news", 0, 60)
        streams = [await messages(ws, len(sent)) for ws in subscribers]
        orders = [[m["data"]["n"] for m in stream] for stream in streams]
        assert sorted(orders[0]) == sent
        for order in orders[1:]:
            assert order == orders[0]
        # Redis assigns offsets: the same, consecutive, on every node.
        offsets = [[m["offset"] for m in stream] for stream in streams]
        assert offsets[0] == list(range(1, len(sent) + 1))
        assert all(o == offsets[0] for o in offsets)
        for ws in subscribers:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)  # nothing twice
        for ws in subscribers + publishers:
            await ws.close()
        for api in apis:
            api.close()
        # The last subscriber gone, each node unsubscribes after about a second.
        wait_for(lambda: redis.numsub("pushwave:news") == 0, 10, "the channel to be released")

    asyncio.run(main())
    for node in nodes:
        node.assert_alive()


def test_nodes_reconnect_after_redis_dies_and_comes_back(nodes, redis):
    async def main():
        subscribers = [await subscriber(node, "alerts") for node in nodes]
        wait_for(lambda: redis.numsub("pushwave:alerts") == len(nodes), 10, "one subscription per node")
        apis = [API(node) for node in nodes]
        api_publish(apis[0], "alerts", {"n": 0})
        for ws in subscribers:
            assert [m["data"] for m in await messages(ws, 1)] == [{"n": 0}]

        redis.kill()
        redis.start()
        # Reconnect and resubscribe by themselves, with backoff: within a few seconds.
        wait_for(lambda: redis.numsub("pushwave:alerts") == len(nodes), 10, "the nodes to resubscribe")
        for node in nodes:
            node.assert_alive()
        for n in range(1, 4):
            api_publish(apis[n % len(apis)], "alerts", {"n": n})
        orders = set()
        for ws in subscribers:
            # Redis lost its data: a new epoch, which tells the subscribers to refetch their
            # state, then offsets from 1 again.
            reset = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert reset["op"] == "subscribed" and not reset["recovered"] and reset["offset"] == 0, reset
            stream = await messages(ws, 3)
            # Published on three nodes and answered 202 before Redis ordered them: Redis's
            # order is the order, the same on every node.
            assert sorted(m["data"]["n"] for m in stream) == [1, 2, 3]
            assert [m["offset"] for m in stream] == [1, 2, 3]
            orders.add(tuple(m["data"]["n"] for m in stream))
        assert len(orders) == 1, orders
        for ws in subscribers:
            await ws.close()
        for api in apis:
            api.close()

    asyncio.run(main())
    for node in nodes:
        node.assert_alive()


def test_topics_are_spread_over_several_redis_servers(start_server, redis, tmp_path):
    other = RedisServer(tmp_path)
    try:
        keys, _ = write_secrets(tmp_path)
        urls = ["--redis", redis.url, "--redis", other.url]
        nodes = [start_server("--api-key-file", str(keys), *urls) for _ in range(2)]
        topics = [f"shard.t{index}" for index in range(12)]

        async def main():
            # Raw /topics subscribers on the first node, /ws ones on the second.
            raw = [await connect(nodes[0].ws_url(f"/topics/{topic}")) for topic in topics]
            ws = [await subscriber(nodes[1], topic) for topic in topics]
            servers = (redis, other)

            def placed() -> bool:
                counts = [[server.numsub(f"pushwave:{topic}") for server in servers] for topic in topics]
                return all(sorted(count) == [0, 2] for count in counts)

            wait_for(placed, 10, "every topic's channel on exactly one server, once per node")
            on_each = [sum(server.numsub(f"pushwave:{topic}") for topic in topics) for server in servers]
            assert all(count > 0 for count in on_each), on_each  # both servers are used
            apis = [API(node) for node in nodes]
            for index, topic in enumerate(topics):
                api_publish(apis[index % 2], topic, {"topic": topic})
            for topic, raw_ws, push_ws in zip(topics, raw, ws):
                assert json.loads(await asyncio.wait_for(raw_ws.recv(), 10)) == {"topic": topic}
                message = (await messages(push_ws, 1))[0]
                assert message["topic"] == topic and message["offset"] == 1
            # What a raw connection sends is published through Redis too.
            await raw[0].send(json.dumps({"from": "raw"}))
            assert json.loads(await asyncio.wait_for(raw[0].recv(), 10)) == {"from": "raw"}
            message = (await messages(ws[0], 1))[0]
            assert message["data"] == {"from": "raw"} and message["offset"] == 2
            for socket_ in raw + ws:
                await socket_.close()
            for api in apis:
                api.close()

        asyncio.run(main())
        for node in nodes:
            node.assert_alive()
    finally:
        other.stop()


async def subscribe_since(node, topic: str, since: dict | None):
    ws = await connect(node.ws_url("/ws"), max_size=None)
    command = {"op": "subscribe", "topic": topic}
    if since is not None:
        command["since"] = since
    await ws.send(json.dumps(command))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply["op"] == "subscribed", reply
    return ws, reply


def test_a_client_moved_to_another_node_recovers_from_the_stream(start_server, redis, tmp_path):
    keys, _ = write_secrets(tmp_path)
    a, b = [start_server("--api-key-file", str(keys), "--redis", redis.url, "--history", "hist.*=100") for _ in range(2)]

    async def main():
        api_a, api_b = API(a), API(b)
        ws, reply = await subscribe_since(a, "hist.x", None)
        epoch = reply["epoch"]
        assert reply["offset"] == 0
        for n in range(1, 6):
            api_publish(api_a, "hist.x", {"n": n})
        seen = await messages(ws, 5)
        assert [m["offset"] for m in seen] == [1, 2, 3, 4, 5]
        await ws.close()
        # Published while the client is away, on the other node (which has no subscriber).
        for n in range(6, 11):
            api_publish(api_b, "hist.x", {"n": n})
        wait_for(lambda: redis.command("XLEN", "pushwave:hist.x:stream") == "10", 10, "the stream to hold 10 messages")
        ws, reply = await subscribe_since(b, "hist.x", {"offset": 5, "epoch": epoch})
        assert reply["recovered"] is True and reply["offset"] == 10 and reply["epoch"] == epoch, reply
        recovered = await messages(ws, 5)
        assert [(m["offset"], m["data"]["n"]) for m in recovered] == [(n, n) for n in range(6, 11)]
        api_publish(api_a, "hist.x", {"n": 11})
        assert [(m["offset"], m["data"]["n"]) for m in await messages(ws, 1)] == [(11, 11)]
        # A second client on B recovers from B's history, which the stream filled.
        other, reply = await subscribe_since(b, "hist.x", {"offset": 2, "epoch": epoch})
        assert reply["recovered"] is True and reply["offset"] == 11, reply
        assert [m["offset"] for m in await messages(other, 9)] == list(range(3, 12))
        # Too far back (the rule keeps 100) or another epoch: recovered:false.
        for n in range(12, 120):
            api_publish(api_b, "hist.x", {"n": n})
        await messages(ws, 108)
        far, reply = await subscribe_since(a, "hist.x", {"offset": 5, "epoch": epoch})
        assert reply["recovered"] is False and reply["offset"] == 119 and reply["epoch"] == epoch, reply
        stale, reply = await subscribe_since(b, "hist.x", {"offset": 5, "epoch": "0000000000000000"})
        assert reply["recovered"] is False and reply["offset"] == 119, reply
        for socket_ in (ws, other, far, stale):
            await socket_.close()
        api_a.close()
        api_b.close()

    asyncio.run(main())
    a.assert_alive()
    b.assert_alive()


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_redis_restart_loses_no_message_on_topics_with_history(start_server, tmp_path):
    redis = RedisServer(tmp_path, persistent=True)
    try:
        keys, _ = write_secrets(tmp_path)
        nodes = [start_server("--api-key-file", str(keys), "--redis", redis.url, "--threads", "2", "--history", "live.*=100000")
                 for _ in range(3)]
        asyncio.run(publish_through_a_restart(nodes, redis))
        for node in nodes:
            node.assert_alive()
    finally:
        redis.stop()


async def publish_through_a_restart(nodes, redis):
    subscribers = [(await subscribe_since(node, "live.feed", None))[0] for node in nodes]
    wait_for(lambda: redis.numsub("pushwave:live.feed") == len(nodes), 10, "one subscription per node")
    answers: dict[int, tuple[int, float]] = {}  # n -> (status, when)
    stop = threading.Event()

    def publish() -> None:
        apis = [API(node) for node in nodes]
        n, start = 0, time.monotonic()
        while not stop.is_set() and time.monotonic() - start < 10:
            n += 1
            status, _, _ = apis[n % len(apis)].call("POST", "/api/publish/live.feed", json.dumps({"n": n}).encode())
            answers[n] = (status, time.monotonic())
            time.sleep(0.01)
        for api in apis:
            api.close()

    received: list[list[tuple[float, dict]]] = [[] for _ in subscribers]

    async def read(index: int, ws) -> None:
        try:
            while True:
                received[index].append((time.monotonic(), json.loads(await ws.recv())))
        except Exception:
            return

    readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(subscribers)]
    publisher = threading.Thread(target=publish)
    publisher.start()
    await asyncio.sleep(3)
    redis.kill()
    killed = time.monotonic()
    cpu_before = [cpu_seconds(node.proc.pid) for node in nodes]
    await asyncio.sleep(1.5)
    # While Redis is away the nodes wait (backoff), they do not spin; /healthz says so.
    cpu_used = [cpu_seconds(node.proc.pid) - before for node, before in zip(nodes, cpu_before)]
    assert all(used < 0.5 for used in cpu_used), cpu_used
    assert http_get(nodes[0].host, nodes[0].port, "/healthz")[0] == 503
    await asyncio.to_thread(redis.start)
    back = time.monotonic()
    await asyncio.to_thread(publisher.join, 20)
    assert not publisher.is_alive()
    # Let everything settle, then compare with what Redis itself kept.
    await asyncio.sleep(3)
    for reader in readers:
        reader.cancel()
    stream = redis_stream(redis, "pushwave:live.feed:stream")
    assert len(stream) > 100
    assert [offset for offset, _ in stream] == list(range(1, len(stream) + 1))
    for index, messages_ in enumerate(received):
        replies = [reply for _, reply in messages_]
        assert all(r["op"] == "message" for r in replies), [r for r in replies if r["op"] != "message"][:3]
        assert [(r["offset"], r["data"]["n"]) for r in replies] == stream, f"node {index}"
        resumed = [when for when, _ in messages_ if when > back]
        assert resumed and resumed[0] - back < 2, "delivery did not resume within 2 s"
    # What Redis did not keep: refused (503), or in flight when it died (202, a handful).
    kept = {n for _, n in stream}
    missing = [n for n, (status, _) in answers.items() if n not in kept]
    accepted_missing = [n for n in missing if answers[n][0] == 202]
    assert all(answers[n][0] in (202, 503) for n in missing)
    assert len(accepted_missing) <= 20, accepted_missing
    assert all(abs(answers[n][1] - killed) < 1 for n in accepted_missing), accepted_missing
    assert http_get(nodes[0].host, nodes[0].port, "/healthz")[0] == 200
    for ws in subscribers:
        await ws.close()


def resp_call(port: int, *args: str):
    """One command to the Redis on `port`, its reply parsed (bulk strings as bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        request = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
        connection.sendall(request)
        reader = connection.makefile("rb")

        def value():
            line = reader.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind in (b"+", b"-"):
                return rest.decode()
            if kind == b":":
                return int(rest)
            if kind == b"$":
                return None if int(rest) < 0 else reader.read(int(rest) + 2)[:-2]
            if kind == b"*":
                return None if int(rest) < 0 else [value() for _ in range(int(rest))]
            raise AssertionError(f"unexpected reply {line!r}")

        return value()


def redis_stream(redis, key: str) -> list[tuple[int, int]]:
    """(offset, n) of every entry of a topic's stream."""
    entries = []
    for entry_id, fields in resp_call(redis.port, "XRANGE", key, "-", "+"):
        values = dict(zip(fields[::2], fields[1::2]))
        entries.append((int(entry_id.decode().split("-")[0]), json.loads(values[b"d"][1:])["n"]))
    return entries


def metric(node, name: str) -> float:
    _, _, body = http_get(node.host, node.port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_node_that_loses_its_channel_repairs_the_gap_from_the_stream(start_server, redis, tmp_path):
    keys, _ = write_secrets(tmp_path)
    node, publisher = [start_server("--api-key-file", str(keys), "--redis", redis.url, "--history", "kept.*=1000") for _ in range(2)]

    async def main():
        kept, _ = await subscribe_since(node, "kept.t", None)
        plain, _ = await subscribe_since(node, "plain.t", None)
        wait_for(lambda: redis.numsub("pushwave:kept.t") == 1 and redis.numsub("pushwave:plain.t") == 1, 10, "subscriptions")
        api = API(publisher)
        for n in range(1, 4):
            api_publish(api, "kept.t", {"n": n})
            api_publish(api, "plain.t", {"n": n})
        await messages(kept, 3)
        await messages(plain, 3)
        # Cut the node's subscriber connection; publish before it resubscribes.
        resp_call(redis.port, "CLIENT", "KILL", "TYPE", "pubsub")
        for n in range(4, 30):
            api_publish(api, "kept.t", {"n": n})
            api_publish(api, "plain.t", {"n": n})
        wait_for(lambda: redis.numsub("pushwave:kept.t") == 1, 10, "the node to resubscribe")
        api_publish(api, "kept.t", {"n": 30})
        api_publish(api, "plain.t", {"n": 30})
        # The topic with history: every offset, in order, no reset.
        got = await messages(kept, 27)
        assert [(m["offset"], m["data"]["n"]) for m in got] == [(n, n) for n in range(4, 31)]
        assert metric(node, "pushwave_redis_messages_repaired_total") >= 1
        # Without history: the offsets jump, which is counted.
        tail = []
        while not tail or tail[-1]["data"]["n"] != 30:
            tail += await messages(plain, 1)
        assert tail[-1]["offset"] == 30
        assert metric(node, "pushwave_redis_gaps_without_history_total") == 1
        assert metric(node, "pushwave_redis_reconnects_total") >= 1
        api.close()
        for ws in (kept, plain):
            await ws.close()

    asyncio.run(main())
    node.assert_alive()


class FakeRedis:
    """A TCP server on a Redis port that misbehaves: `mode` is "garbage" (an invalid reply
    to anything), "cut" (half a reply, then close) or "silent" (reads, never answers)."""

    def __init__(self, port: int, mode: str):
        self.mode = mode
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.connections = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        open_sockets = []
        while not self.done.is_set():
            try:
                connection, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            open_sockets.append(connection)
            connection.settimeout(0.5)
            try:
                connection.recv(65536)
                if self.mode == "garbage":
                    connection.sendall(b"!this is not RESP\r\n")
                elif self.mode == "cut":
                    connection.sendall(b"*4\r\n$16\r\n0123")
                    connection.close()
            except OSError:
                pass
        for connection in open_sockets:
            connection.close()
        self.listener.close()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_c_a_redis_that_lies_or_stalls_costs_bounded_memory_and_logs(start_server, redis, tmp_path):
    keys, _ = write_secrets(tmp_path)
    node = start_server("--api-key-file", str(keys), "--redis", redis.url, "--history", "f.*=100", "--redis-max-pending", "200")

    async def main():
        ws, _ = await subscribe_since(node, "f.t", None)
        api = API(node)
        api_publish(api, "f.t", {"n": 1})
        assert (await messages(ws, 1))[0]["offset"] == 1
        rss_before = rss_kib(node.proc.pid)
        for mode in ("garbage", "cut", "silent"):
            redis.kill()
            fake = FakeRedis(redis.port, mode)
            try:
                wait_for(lambda: fake.connections >= 2, 10, f"the node to reach the {mode} server")
                # A server that answers badly loses the publications sent to it (counted); one
                # that never answers holds up to --redis-max-pending, then they are refused.
                statuses = [api.call("POST", "/api/publish/f.t", json.dumps({"n": "lost"}).encode())[0] for _ in range(300)]
                assert set(statuses) <= {202, 503}, statuses
                if mode == "silent":
                    assert statuses.count(503) >= 100, statuses
                    assert metric(node, "pushwave_redis_publications_refused_total") >= 100
                await asyncio.sleep(1.5)
                assert http_get(node.host, node.port, "/healthz")[0] in (200, 503)
            finally:
                fake.stop()
            redis.start()
            wait_for(lambda: http_get(node.host, node.port, "/healthz")[0] == 200 and redis.numsub("pushwave:f.t") == 1,
                     10, f"recovery after the {mode} server")
            # Drain whatever the queued publications delivered, then one more arrives in order.
            api_publish(api, "f.t", {"n": mode})
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if reply["op"] == "message" and reply["data"] == {"n": mode}:
                    break
        assert rss_kib(node.proc.pid) - rss_before < 64 * 1024
        api.close()
        await ws.close()

    asyncio.run(main())
    node.assert_alive()
    log = node.log_path.read_text(errors="replace")
    assert "closing the connection" in log  # the garbage, named
    assert "the server closed the connection" in log  # the cut reply
    assert "publications may have been lost" in log


class FreezingProxy:
    """A TCP proxy in front of a Redis server that can make the connections that subscribed
    go silent while staying open, as after a failover behind a proxy: what they send is read
    and dropped, nothing comes back. Connections made later are proxied normally."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.pairs: list[dict] = []
        self.done = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while not self.done.is_set():
            try:
                client, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            pair = {"client": client, "upstream": upstream, "subscriber": False, "frozen": False}
            self.pairs.append(pair)
            threading.Thread(target=self.pump, args=(pair, client, upstream, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(pair, upstream, client, False), daemon=True).start()

    def pump(self, pair: dict, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client and b"SUBSCRIBE" in data:
                    pair["subscriber"] = True
                if not pair["frozen"]:
                    target.sendall(data)
        except OSError:
            pass
        # Either side closed: close both, so that Redis forgets a dropped subscriber.
        for end in (pair["client"], pair["upstream"]):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def freeze_subscribers(self) -> int:
        frozen = [pair for pair in self.pairs if pair["subscriber"]]
        for pair in frozen:
            pair["frozen"] = True
        return len(frozen)

    def stop(self) -> None:
        self.done.set()
        for pair in self.pairs:
            for end in (pair["client"], pair["upstream"]):
                end.close()
        self.listener.close()


def test_a_subscriber_connection_that_goes_silent_is_noticed_and_replaced(start_server, redis, tmp_path):
    keys, _ = write_secrets(tmp_path)
    proxy = FreezingProxy(redis.port)
    try:
        node = start_server("--api-key-file", str(keys), "--redis", f"redis://127.0.0.1:{proxy.port}", "--redis-probe-interval", "0.5")

        async def main():
            ws, _ = await subscribe_since(node, "p.t", None)
            api = API(node)
            api_publish(api, "p.t", {"n": 1})
            assert (await messages(ws, 1))[0]["data"] == {"n": 1}
            assert proxy.freeze_subscribers() == 1
            frozen_at = time.monotonic()
            # One probe interval until the next PING, one more for its answer (1 s); the rest is
            # slack for a machine loaded by other work.
            wait_for(lambda: http_get(node.host, node.port, "/healthz")[0] == 503, 5, "/healthz to report the silent connection")
            assert time.monotonic() - frozen_at < 5
            wait_for(lambda: http_get(node.host, node.port, "/healthz")[0] == 200 and redis.numsub("pushwave:p.t") == 1,
                     10, "a new subscriber connection")
            api_publish(api, "p.t", {"n": 2})
            assert (await messages(ws, 1))[0]["data"] == {"n": 2}
            api.close()
            await ws.close()

        asyncio.run(main())
        node.assert_alive()
        log = node.log_path.read_text(errors="replace")
        assert "no answer to PING" in log
        assert metric(node, "pushwave_redis_reconnects_total") >= 1
    finally:
        proxy.stop()


def test_the_load_generator_publishes_on_one_node_and_subscribes_on_another(start_server, redis, pushwave_load_bin, tmp_path):
    """`pushwave-load push --publish-url`: publishers on node A, subscribers on node B, every
    message through Redis; the report counts each delivery on B."""
    keys, _ = write_secrets(tmp_path)
    a, b = [start_server("--api-key-file", str(keys), "--redis", redis.url) for _ in range(2)]
    cmd = [
        str(pushwave_load_bin), "push", "--url", b.ws_url("/topics/across"), "--publish-url", a.ws_url("/topics/across"),
        "--subscribers", "20", "--publishers", "2", "--rate", "500", "--messages", "200", "--threads", "1", "--json",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["deliveries"] == report["expected_deliveries"] == 20 * 200, report
    assert report["error_total"] == 0, report
    assert redis.numsub("pushwave:across") == 2
