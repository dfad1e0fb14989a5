#!/usr/bin/env bash
# The whole agent at N ICMP targets on loopback: memory and CPU.
#
#   bash bench/agent_load.sh [BUILD_DIR] [SECONDS] [N ...]     (default: build 30 100 1000 10000)
#   SCRAPE=15 bash bench/agent_load.sh ...   also fetch /metrics every 15 s with gzip, as Prometheus does
#
# For each N: an agent with one line and N ICMP targets (127.0.x.y, answered by
# this host's own stack), one echo each per second, runs for SECONDS after its
# API answers. Prints per N: RSS at the end and its peak (VmRSS, VmHWM), the
# process's CPU share of one core over the run (utime + stime from
# /proc/PID/stat), CPU per round, rounds, overruns, missed slots, the engine's
# loop lag p99, the scheduler's start lag (mean and max), and rows stored. The issue's
# bounds: RSS <= 20 MB at 100 targets, <= 64 MB at 10,000.
#
# Loopback only; each agent is ended by its PID; the temp dir is removed.
set -euo pipefail
build=${1:-build}
seconds=${2:-30}
shift $(($# > 2 ? 2 : $#)) || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1000 10000)
bin=$(cd "$build" && pwd)/agent/linewatch
[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 2; }
work=$(mktemp -d /tmp/linewatch-agent-load.XXXXXX)
agent_pid=""
scrape_pid=""
scrape=${SCRAPE:-0}
cleanup() {
  if [ -n "$scrape_pid" ] && kill -0 "$scrape_pid" 2>/dev/null; then kill "$scrape_pid"; wait "$scrape_pid" || true; fi
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then kill "$agent_pid"; wait "$agent_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
tck=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

printf '%-7s %9s %9s %8s %12s %8s %9s %7s %10s %10s %10s %9s\n' targets "rss MiB" "peak MiB" "cpu %" "cpu/round us" rounds overruns missed "loop p99" "start avg" "start max" rows
for n in "${sizes[@]}"; do
  dir="$work/$n"
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  {
    echo "agent: { id: load, listen: 127.0.0.1:$port, data_dir: data }"
    echo "probes:"
    echo "  icmp: { interval: 1s, timeout: 500ms, pings: 1 }"
    echo "lines:"
    echo "  - { id: lo, source: 127.0.0.1 }"
    echo "targets:"
    for ((i = 0; i < n; i++)); do echo "  - { id: t$i, icmp: 127.0.$((i / 250)).$((i % 250 + 1)) }"; done
  } >"$dir/linewatch.yaml"
  (cd "$dir" && exec "$bin" run -c linewatch.yaml >agent.log 2>&1) &
  agent_pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/-/healthy" >/dev/null 2>&1 && break
    kill -0 "$agent_pid" 2>/dev/null || { tail "$dir/agent.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "  $n targets: running ${seconds}s" >&2
  t0=$(cpu_ticks "$agent_pid")
  r0=$(curl -sf "http://127.0.0.1:$port/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["scheduler"]["rounds"])')
  if [ "$scrape" -gt 0 ]; then
    (for ((k = 0; k < seconds / scrape; k++)); do
      sleep "$scrape"
      curl -sf -H 'Accept-Encoding: gzip' -o /dev/null "http://127.0.0.1:$port/metrics" || true
    done) &
    scrape_pid=$!
  fi
  sleep "$seconds"
  if [ -n "$scrape_pid" ]; then kill "$scrape_pid" 2>/dev/null || true; wait "$scrape_pid" || true; scrape_pid=""; fi
  t1=$(cpu_ticks "$agent_pid")
  rss=$(kib "$agent_pid" VmRSS)
  hwm=$(kib "$agent_pid" VmHWM)
  curl -sf "http://127.0.0.1:$port/api/v1/status" >"$dir/status.json"
  kill -TERM "$agent_pid"
  wait "$agent_pid" || true
  agent_pid=""
  rows=$(sqlite3 "$dir/data/linewatch.db" "SELECT count(*) FROM samples")
  python3 - "$dir/status.json" "$n" "$rss" "$hwm" "$((t1 - t0))" "$tck" "$seconds" "$r0" "$rows" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
n, rss, hwm, ticks, tck, secs, r0, rows = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
s, e = doc["scheduler"], doc.get("engine", {})
rounds = s["rounds"] - r0
cpu_s = ticks / tck
print(f"{n:<7s} {rss / 1024:9.1f} {hwm / 1024:9.1f} {100 * cpu_s / secs:8.2f} "
      f"{1e6 * cpu_s / max(rounds, 1):12.1f} {rounds:8d} {s['overruns']:9d} {s['missed']:7d} "
      f"{e.get('loop_lag_p99_ms', float('nan')):10.3f} {s['lag_avg_ms']:10.3f} {s['lag_max_ms']:10.3f} {rows:>9s}")
PY
done
[ "$scrape" -gt 0 ] && echo "(/metrics fetched every ${scrape}s during each run)" >&2
echo "(lags in ms: the engine loop's p99, the scheduler's start lag mean and max; CPU from /proc/PID/stat at ${tck} ticks/s)" >&2
