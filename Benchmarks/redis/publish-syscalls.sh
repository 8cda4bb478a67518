#!/usr/bin/env bash
# Write system calls per published message on a pushwave node with --redis, at a high rate.
#
#   Benchmarks/redis/publish-syscalls.sh [RATE] [MESSAGES] [PUBLISHERS]   (default 100000 1000000 4)
#
# Starts redis-server and one release node (--threads 1) on free loopback ports, and
# publishes MESSAGES at RATE through /topics/bench with pushwave-load (PUBLISHERS publishers
# and 1 subscriber; the server also delivers every message to each publisher, which is
# subscribed too). Counts, with `perf stat` tracepoints (cheap, unlike strace), the node's
# write, writev, sendmsg and sendto calls during the run, and reads Redis's own figures:
# EVALSHA calls (publications that reached Redis) and read calls (total_reads_processed:
# about one per write the node made on its Redis connections). Pinning: node on CPU 0,
# Redis and the load generator on CPU 1 (NODE_CPU, REDIS_CPU, LOAD_CPU change it; 2 cores,
# shared with other work: everything on loopback).
# NODE_ARGS adds options to the node (e.g. "--redis-max-pending 100000").
# Every process it starts is stopped by PID; the run is bounded (timeout).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RATE=${1:-100000}
MESSAGES=${2:-1000000}
PUBLISHERS=${3:-4}
BIN=${BIN:-.build/release}
work=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(port); nport=$(port)
taskset -c "${REDIS_CPU:-1}" redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
pids=("$redis_pid")
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$rport" PING >/dev/null 2>&1 && break; sleep 0.05; done
taskset -c "${NODE_CPU:-0}" "$BIN/pushwave" --port "$nport" --threads 1 --redis "redis://127.0.0.1:$rport" --log-level warning ${NODE_ARGS:-} >"$work/node.log" 2>&1 &
node_pid=$!
pids+=("$node_pid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nport/healthz" >/dev/null && break; sleep 0.05; done
stat() { redis-cli -p "$rport" INFO "$1" | tr -d '\r' | grep "^$2" | sed 's/.*[:=]\([0-9]*\).*/\1/'; }
reads_before=$(stat stats total_reads_processed)
# The node's descriptors of its two Redis connections, to count their writes apart.
redis_fds=$(ss -tnp "dst 127.0.0.1:$rport" | grep -o "pid=$node_pid,fd=[0-9]*" | sed 's/.*fd=//' | paste -sd' ')
filter=$(for fd in $redis_fds; do printf 'fd == %s || ' "$fd"; done | sed 's/ || $//')
events=()
for call in write writev sendmsg sendto; do events+=(-e "syscalls:sys_enter_$call"); done
for call in write writev sendmsg sendto; do events+=(-e "syscalls:sys_enter_$call" --filter "$filter"); done
perf stat -x, -o "$work/perf.csv" "${events[@]}" -p "$node_pid" &
perf_pid=$!
pids+=("$perf_pid")
sleep 0.5
timeout 120 taskset -c "${LOAD_CPU:-1}" "$BIN/pushwave-load" push --url "ws://127.0.0.1:$nport/topics/bench" --threads 1 \
    --subscribers 1 --publishers "$PUBLISHERS" --rate "$RATE" --messages "$MESSAGES" --json --max-errors 1000000 >"$work/load.out" 2>"$work/load.err" || true
sleep 0.5
kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
reads=$(( $(stat stats total_reads_processed) - reads_before ))
node_cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$node_pid/stat")
redis_cpu=$(redis-cli -p "$rport" INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { sum += $2 } END { print sum }')
evalsha=$(redis-cli -p "$rport" INFO commandstats | tr -d '\r' | grep '^cmdstat_evalsha:' | sed 's/^cmdstat_evalsha:calls=\([0-9]*\).*/\1/')
# The first four counters are every write of the node, the last four those on Redis sockets.
writes=$(awk -F, '/sys_enter/ { n++; if (n <= 4) sum += $1 } END { print sum }' "$work/perf.csv")
redis_writes=$(awk -F, '/sys_enter/ { n++; if (n > 4) sum += $1 } END { print sum }' "$work/perf.csv")
echo "CPU seconds: node $node_cpu, redis-server $redis_cpu (both since they started)"
python3 - "$work/load.out" "$MESSAGES" "$writes" "$evalsha" "$reads" "$work/perf.csv" "$redis_writes" <<'PY'
import json, sys
out, messages, writes, evalsha, reads, perf = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4] or 0), int(sys.argv[5]), sys.argv[6]
redis_writes = int(sys.argv[7])
report = json.loads(open(out).read().strip().splitlines()[-1])
for line in open(perf):
    if "sys_enter" in line:
        print(f"  {line.split(',')[2]}{' (Redis sockets)' if 'fd ==' in line or line.count(',') > 7 else ''}: {line.split(',')[0]}")
print(f"published {messages} at {report.get('rate', '?')} /s requested; reached Redis: {evalsha}; "
      f"deliveries {report['deliveries']} of {report['expected_deliveries']}, errors {report['error_total']}")
latency = report["latency_us"]
print(f"publish-to-delivery latency p50 {latency['p50'] / 1000:.1f} ms, p99 {latency['p99'] / 1000:.1f} ms; "
      f"last delivery {report['fanout_ms']:.0f} ms after the first publish (schedule: {1000 * messages / report['rate']:.0f} ms)")
print(f"node write calls (all sockets): {writes} = {writes / max(evalsha, 1):.4f} per publication")
print(f"node write calls on its Redis connections: {redis_writes} = {redis_writes / max(evalsha, 1):.4f} per publication")
print(f"Redis read calls: {reads} = {reads / max(evalsha, 1):.4f} per publication")
print(f"refused: {report['error_total']} errors; {report.get('error_details') or ''}; generator CPU {report['generator_cpu_s']} s")
PY
echo "files: $work" >&2
