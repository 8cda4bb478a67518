#!/usr/bin/env python3
"""Resubscribe time after a Redis restart, for many topics on one pushwave node.

Starts its own redis-server and one pushwave node on free loopback ports, subscribes
--topics topics over /ws (--per-connection subscriptions per connection, at most the node's
--max-subscriptions), waits until Redis counts that many channels, then kills Redis (SIGKILL)
and starts it again on the same port. Prints, in ms from the moment the new Redis answers
PING: when its `pubsub_channels` (INFO) is back to --topics, and when a publication on the
last topic (HTTP API) reached its subscriber. Everything is stopped by PID at the end.

    python3 Benchmarks/redis/resubscribe.py --pushwave .build/release/pushwave --topics 100000

Bounded: every wait has a timeout (--timeout seconds); needs `websockets` (Tests/Interop).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from websockets.asyncio.client import connect

API_KEY = "bench-api-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=5).stdout.strip()


def pubsub_channels(port: int) -> int:
    for line in redis_cli(port, "INFO", "stats").splitlines():
        if line.startswith("pubsub_channels:"):
            return int(line.split(":")[1])
    return -1


def start_redis(port: int, log) -> subprocess.Popen:
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                               stdout=log, stderr=subprocess.STDOUT)
    wait(lambda: redis_cli(port, "PING") == "PONG", 10, "redis-server to start")
    return process


def wait(condition, timeout: float, what: str, interval: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


async def subscribe_all(port: int, topics: int, per_connection: int, prefix: str) -> list:
    sockets = []
    for first in range(0, topics, per_connection):
        ws = await connect(f"ws://127.0.0.1:{port}/ws", max_size=None)
        names = [f"{prefix}{index}" for index in range(first, min(first + per_connection, topics))]
        for name in names:
            await ws.send(json.dumps({"op": "subscribe", "topic": name}))
        confirmed = 0
        while confirmed < len(names):
            reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if reply.get("op") == "subscribed":
                confirmed += 1
            elif reply.get("op") == "error":
                raise SystemExit(f"subscribe refused: {reply}")
        sockets.append(ws)
    return sockets


async def drain(ws, topic: str, found: asyncio.Event, marker: str) -> None:
    """Reads everything (resets after the restart included), so the node never backs up."""
    try:
        async for raw in ws:
            reply = json.loads(raw)
            if reply.get("op") == "message" and reply.get("topic") == topic and reply.get("data") == marker:
                found.set()
    except Exception:
        pass


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushwave", default=".build/release/pushwave")
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--per-connection", type=int, default=1_000)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="pushwave-resubscribe-")
    keys = os.path.join(work, "keys")
    with open(keys, "w") as file:
        file.write(API_KEY + "\n")
    redis_port, node_port = free_port(), free_port()
    redis_log = open(os.path.join(work, "redis.log"), "ab")
    redis = start_redis(redis_port, redis_log)
    node = subprocess.Popen([args.pushwave, "--port", str(node_port), "--api-key-file", keys, "--redis", f"redis://127.0.0.1:{redis_port}",
                             "--max-subscriptions", str(args.per_connection), "--log-level", "warning"],
                            stdout=open(os.path.join(work, "node.log"), "ab"), stderr=subprocess.STDOUT)
    sockets = []
    try:
        wait(lambda: node.poll() is None and http_status(node_port, "/healthz") == 200, 10, "the node to start")
        began = time.monotonic()
        sockets = await subscribe_all(node_port, args.topics, args.per_connection, "r.")
        wait(lambda: pubsub_channels(redis_port) == args.topics, args.timeout, "the first subscriptions", 0.05)
        print(f"subscribed {args.topics} topics on {len(sockets)} connections in {time.monotonic() - began:.1f} s")
        last = f"r.{args.topics - 1}"
        found = asyncio.Event()
        readers = [asyncio.create_task(drain(ws, last, found, "after-restart")) for ws in sockets]

        killed = time.monotonic()
        os.kill(redis.pid, signal.SIGKILL)
        redis.wait(5)
        redis = start_redis(redis_port, redis_log)
        ready = time.monotonic()
        await asyncio.to_thread(wait, lambda: pubsub_channels(redis_port) == args.topics, args.timeout, "the resubscriptions")
        resubscribed = time.monotonic()
        publish(node_port, last, "after-restart")
        await asyncio.wait_for(found.wait(), args.timeout)
        delivered = time.monotonic()
        print(f"redis down for {1000 * (ready - killed):.0f} ms (kill to PING)")
        print(f"all {args.topics} channels subscribed again {1000 * (resubscribed - ready):.0f} ms after Redis answered PING")
        print(f"a publication on the last topic delivered {1000 * (delivered - ready):.0f} ms after Redis answered PING "
              f"({1000 * (delivered - resubscribed):.0f} ms after the resubscription)")
        for reader in readers:
            reader.cancel()
    finally:
        for ws in sockets:
            await ws.close()
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(10)
        except subprocess.TimeoutExpired:
            node.kill()
        redis.kill()
        redis.wait(5)
        print(f"logs in {work}", file=sys.stderr)


def http_status(port: int, path: str) -> int:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0


def publish(port: int, topic: str, data) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", f"/api/publish/{topic}", json.dumps(data).encode(),
                       {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 202, (response.status, response.read())


if __name__ == "__main__":
    asyncio.run(main())
