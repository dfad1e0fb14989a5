#!/usr/bin/env bash
# Memory and loss of `linewatch run` on a full disk, over minutes.
#
# Runs two agents side by side with the same probes: "full" has data_dir on a
# 2 MiB tmpfs that a filler file leaves nearly full, "control" on an ordinary
# temporary directory. Every --every seconds it prints, for both: storage
# state, rows written, rows dropped, queue depth and RSS. The RSS difference
# is what a failing disk costs; the rest (the status board's 5-minute window,
# threads) grows in both alike. At the end both get SIGTERM and the stop time
# and stop line of the full one are printed.
#
# Usage: sudo bash bench/storage_full_disk.sh [--bin PATH] [--duration S] [--every S]
#                                              [--interval D] [--queue N]
#   --bin PATH     the linewatch binary (default build/agent/linewatch)
#   --duration S   seconds to run (default 300)
#   --every S      seconds between samples (default 30)
#   --interval D   probe interval, 16 TCP jobs (default 100ms: 160 rows/s)
#   --queue N      storage.queue (default: the agent's own, 65536)
#
# Root: it mounts a tmpfs (removed on exit). Network: TCP connects to a closed
# port on 127.0.0.1 only. The agents are ended by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/agent/linewatch duration=300 every=30 interval=100ms queue=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --every) every="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    --queue) queue="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "storage_full_disk.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$(id -u)" -eq 0 ]] || { echo "storage_full_disk.sh: needs root to mount a tmpfs" >&2; exit 2; }
[[ -x "$bin" ]] || { echo "storage_full_disk.sh: no binary at $bin (--bin)" >&2; exit 2; }

work=$(mktemp -d /tmp/linewatch-bench-fulldisk.XXXXXX)
pids=()
mounted=""
cleanup() {
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p"; wait "$p" 2>/dev/null || true; fi
  done
  if [[ -n "$mounted" ]]; then umount "$work/full"; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/full" "$work/control"
mount -t tmpfs -o size=2m linewatch-bench "$work/full"
mounted=1
dd if=/dev/zero of="$work/full/filler" bs=1K count=1700 status=none

read -r port_full port_control closed < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')

# config NAME PORT DATA_DIR
config() {
  local storage="flush_interval: 1s"
  [[ -n "$queue" ]] && storage+=", queue: $queue, batch: $(( queue < 1000 ? queue : 1000 ))"
  cat >"$work/$1.yaml" <<YAML
agent: { id: bench-$1, listen: 127.0.0.1:$2, data_dir: $3 }
storage: { $storage }
probes:
  tcp: { interval: $interval, timeout: 10ms }
lines:
  - { id: lo-a, source: 127.0.0.1 }
  - { id: lo-b, source: 127.0.0.2 }
  - { id: lo-c, source: 127.0.0.3 }
  - { id: lo-d, source: 127.0.0.4 }
targets:
  - { id: closed-1, tcp: "127.0.0.1:$closed" }
  - { id: closed-2, tcp: "127.0.0.1:$closed" }
  - { id: closed-3, tcp: "127.0.0.1:$closed" }
  - { id: closed-4, tcp: "127.0.0.1:$closed" }
YAML
}
config full "$port_full" "$work/full/data"
config control "$port_control" "$work/control/data"

"$bin" run -c "$work/full.yaml" >"$work/full.log" 2>&1 &
pid_full=$!
pids+=("$pid_full")
"$bin" run -c "$work/control.yaml" >"$work/control.log" 2>&1 &
pid_control=$!
pids+=("$pid_control")

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# storage PORT: "state written dropped queue" (state "-" when the agent does not report one)
storage() {
  curl -sf --max-time 2 "http://127.0.0.1:$1/api/v1/status" | python3 -c '
import json, sys
s = json.load(sys.stdin)["storage"]
print(s.get("state", "-"), s["written"], s["dropped"], s.get("queue", s["submitted"] - s["written"]))'
}

echo "binary $bin, $duration s, 16 TCP jobs every $interval, storage.queue ${queue:-default}"
printf '%5s | %-8s %9s %9s %7s %8s | %9s %8s | %8s\n' \
  t_s state written dropped queue rss_mb written rss_mb delta_mb
printf '%5s | %-44s | %-18s |\n' "" "full disk" "control"
for ((t = every; t <= duration; t += every)); do
  sleep "$every"
  read -r st wr dr q < <(storage "$port_full")
  read -r _ cwr _ _ < <(storage "$port_control")
  rf=$(rss_mb "$pid_full") rc=$(rss_mb "$pid_control")
  printf '%5d | %-8s %9d %9d %7d %8s | %9d %8s | %8s\n' \
    "$t" "$st" "$wr" "$dr" "$q" "$rf" "$cwr" "$rc" "$(awk -v a="$rf" -v b="$rc" 'BEGIN { printf "%.1f", a - b }')"
done

start=$(date +%s%N)
kill -TERM "$pid_full"
wait "$pid_full" || true
echo "full disk agent stopped in $(( ($(date +%s%N) - start) / 1000000 )) ms"
kill -TERM "$pid_control"
wait "$pid_control" || true
echo "its log, without probe up/down lines:"
grep -v ' state=\(up\|down\)' "$work/full.log" | sed 's/^/  /'
