#!/usr/bin/env python3
"""Three pushwave nodes joined through one or two Redis servers, measured with pushwave-load.

    # delivered messages/s: TOPICS topics, each published on node i and subscribed on node i+1
    python3 Benchmarks/redis/cluster.py throughput --redis-servers 1 --topics 6 --rate 5000 --subscribers 10
    python3 Benchmarks/redis/cluster.py throughput --redis-servers 2 --topics 6 --rate 5000 --subscribers 10
    # latency from a publish on node A to the last subscriber on node C
    python3 Benchmarks/redis/cluster.py latency --subscribers 1
    python3 Benchmarks/redis/cluster.py latency --subscribers 10000

Starts its own redis-server(s) and nodes (release build, --threads 1 each) on free loopback
ports and stops them by PID. Every run is bounded (--messages at --rate, plus timeouts).
Everything shares the machine's cores: the figures include the load generator's own cost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def redis_ready(port: int) -> bool:
    result = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True, timeout=5)
    return result.stdout.strip() == "PONG"


class Cluster:
    def __init__(self, binaries: str, redis_servers: int, work: str):
        self.processes: list[subprocess.Popen] = []
        self.redis_ports = [free_port() for _ in range(redis_servers)]
        for port in self.redis_ports:
            self.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                       os.path.join(work, f"redis-{port}.log"))
            wait(lambda: redis_ready(port), 10, "redis-server")
        self.node_ports = [free_port() for _ in range(3)]
        urls = [argument for port in self.redis_ports for argument in ("--redis", f"redis://127.0.0.1:{port}")]
        for port in self.node_ports:
            self.spawn([os.path.join(binaries, "pushwave"), "--port", str(port), "--threads", "1", "--log-level", "warning",
                        "--redis-max-pending", "100000", *urls], os.path.join(work, f"node-{port}.log"))
        for port in self.node_ports:
            wait(lambda: healthy(port), 15, "a node")

    def spawn(self, command: list[str], log: str) -> None:
        self.processes.append(subprocess.Popen(command, stdout=open(log, "ab"), stderr=subprocess.STDOUT))

    def url(self, node: int, topic: str) -> str:
        return f"ws://127.0.0.1:{self.node_ports[node]}/topics/{topic}"

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def load(binaries: str, subscribe_url: str, publish_url: str, subscribers: int, rate: float, messages: int) -> subprocess.Popen:
    return subprocess.Popen(
        [os.path.join(binaries, "pushwave-load"), "push", "--url", subscribe_url, "--publish-url", publish_url, "--threads", "1",
         "--subscribers", str(subscribers), "--publishers", "1", "--rate", str(rate), "--messages", str(messages), "--json",
         "--max-errors", str(subscribers * messages)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def report(process: subprocess.Popen, timeout: float) -> dict:
    out, err = process.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    if not lines:
        raise SystemExit(f"pushwave-load failed: {err[-2000:]}")
    return json.loads(lines[-1])


def throughput(args, cluster: Cluster) -> None:
    runs = [load(args.binaries, cluster.url((topic + 1) % 3, f"bench{topic}"), cluster.url(topic % 3, f"bench{topic}"),
                 args.subscribers, args.rate, args.messages) for topic in range(args.topics)]
    reports = [report(run, args.messages / args.rate + 120) for run in runs]
    delivered = sum(r["deliveries"] for r in reports)
    expected = sum(r["expected_deliveries"] for r in reports)
    seconds = max(r["fanout_ms"] or 0 for r in reports) / 1000
    print(f"{args.redis_servers} Redis server(s), {args.topics} topics x {args.subscribers} subscribers, "
          f"{args.rate:.0f} publications/s per topic")
    print(f"delivered {delivered} of {expected} in {seconds:.2f} s: {delivered / max(seconds, 1e-9):,.0f} deliveries/s "
          f"({sum(r['published'] for r in reports) / max(seconds, 1e-9):,.0f} publications/s)")
    p50 = sorted(r["latency_us"]["p50"] for r in reports)[len(reports) // 2] / 1000
    p99 = max(r["latency_us"]["p99"] for r in reports) / 1000
    print(f"latency publish (node i) to delivery (node i+1): median of p50s {p50:.1f} ms, worst p99 {p99:.1f} ms")


def latency(args, cluster: Cluster) -> None:
    r = report(load(args.binaries, cluster.url(2, "lat"), cluster.url(0, "lat"), args.subscribers, args.rate, args.messages),
               args.messages / args.rate + 300)
    latency_us = r["latency_us"]
    print(f"{args.subscribers} subscribers on node C, publisher on node A, {args.messages} messages at {args.rate:.0f}/s: "
          f"delivered {r['deliveries']} of {r['expected_deliveries']}")
    print(f"latency publish (A) to delivery (C): p50 {latency_us['p50'] / 1000:.2f} ms, p99 {latency_us['p99'] / 1000:.2f} ms, "
          f"max {latency_us['max'] / 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["throughput", "latency"])
    parser.add_argument("--binaries", default=".build/release")
    parser.add_argument("--redis-servers", type=int, default=1)
    parser.add_argument("--topics", type=int, default=6)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--messages", type=int, default=None)
    args = parser.parse_args()
    if args.mode == "latency":
        args.rate = args.rate or 100
        args.messages = args.messages or 1000
    else:
        args.rate = args.rate or 5000
        args.messages = args.messages or int(args.rate * 5)
    work = tempfile.mkdtemp(prefix="pushwave-cluster-")
    cluster = Cluster(args.binaries, args.redis_servers, work)
    try:
        throughput(args, cluster) if args.mode == "throughput" else latency(args, cluster)
    finally:
        cluster.stop()
        print(f"logs in {work}")


if __name__ == "__main__":
    main()
