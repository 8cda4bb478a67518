#!/usr/bin/env python3
"""What /metrics costs with --processes: scrape latency and idle CPU, side by side.

Starts, in one run, `pushwave --processes N` (the workers share their figures through files
and the scraped worker sums them) and a single `pushwave` on another port, each with
CONNECTIONS idle WebSocket connections, then:

- scrapes /metrics SCRAPES times on each (a new connection each time, so the kernel picks a
  worker each time) and reports the median and 99th percentile of the time to the whole body;
- reads the CPU time (utime + stime, /proc/PID/stat) each process used over IDLE seconds
  with no scrape at all (what the workers' half-second file writes cost).

    Benchmarks/processes/metrics-cost.py [--binary .build/release/pushwave] [--processes 3]
        [--connections 300] [--scrapes 500] [--idle 30]

Every process it starts is stopped by PID at the end.
"""
import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_healthy(port):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if get(port, "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"no answer on port {port}")


def children(pid):
    result = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        result.append(int(entry))
            except OSError:
                pass
    return result


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def upgrade(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 101"), "upgrade refused"
    return s


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(HERE, "../../.build/release/pushwave"))
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--scrapes", type=int, default=500)
    parser.add_argument("--idle", type=float, default=30)
    args = parser.parse_args()

    servers = {}
    for name, extra in (("--processes %d" % args.processes, ["--processes", str(args.processes)]), ("one process", [])):
        port = free_port()
        process = subprocess.Popen([args.binary, "--port", str(port), "--log-level", "warning", *extra],
                                   stderr=subprocess.DEVNULL)
        servers[name] = (port, process)
    sockets = []
    try:
        for port, _ in servers.values():
            wait_healthy(port)
            sockets += [upgrade(port) for _ in range(args.connections)]
        time.sleep(1)
        print(f"{args.connections} idle connections each; {args.scrapes} scrapes, a new connection each")
        for name, (port, process) in servers.items():
            times = []
            for _ in range(args.scrapes):
                start = time.perf_counter()
                status, body = get(port, "/metrics")
                times.append(time.perf_counter() - start)
                assert status == 200
            times.sort()
            line = [l for l in body.decode().splitlines() if l.startswith("pushwave_connections_open ")]
            print(f"  {name:>14}: median {statistics.median(times) * 1e6:.0f} µs, "
                  f"p99 {times[int(len(times) * 0.99)] * 1e6:.0f} µs, {len(body)} bytes, {line[0]}")
        pids = {name: ([process.pid] + children(process.pid)) for name, (_, process) in servers.items()}
        before = {pid: cpu_seconds(pid) for group in pids.values() for pid in group}
        time.sleep(args.idle)
        print(f"CPU over {args.idle:.0f} s idle (no scrape)")
        for name, group in pids.items():
            used = [cpu_seconds(pid) - before[pid] for pid in group]
            print(f"  {name:>14}: " + ", ".join(f"{value * 1000:.0f} ms" for value in used)
                  + (" (supervisor, then workers)" if len(group) > 1 else ""))
    finally:
        for s in sockets:
            s.close()
        for _, process in servers.values():
            process.send_signal(signal.SIGTERM)
        for _, process in servers.values():
            process.wait(20)


if __name__ == "__main__":
    main()
