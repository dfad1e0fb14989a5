#!/usr/bin/env bash
# End to end: a full disk is reported once, survived, and accounted for.
#
# Mounts a 2 MiB tmpfs of its own (root; exit 77 = skipped otherwise), takes
# most of it with a filler file and runs `linewatch run` with data_dir there
# and 16 TCP probes every 20 ms at a closed loopback port (each round is a
# quick "refused", so rows come fast and nothing leaves 127.0.0.0/8). Checks:
#   - the log has exactly one "storage failing" line, with SQLite's message;
#   - /api/v1/status shows state "failing", since, last_error and the queue;
#   - after the filler is deleted, one "storage recovered" line with the rows
#     dropped meanwhile, and status back to "ok";
#   - SIGTERM: the stop line reports rows_not_stored, the database passes
#     PRAGMA integrity_check and every row stored before the failure is there.
# About 20-40 s. The agent is ended by PID; the mount is removed on exit.
set -euo pipefail
bin=${1:?usage: storage_full_disk_test.sh PATH/TO/linewatch}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: mounting a tmpfs needs root"; exit 77; fi

work=$(mktemp -d /tmp/linewatch-fulldisk.XXXXXX)
mnt=$work/mnt
log=$work/agent.log
agent_pid=""
mounted=""
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -KILL "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
  fi
  if [ -n "$mounted" ]; then umount "$mnt"; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$log" ] && grep -v 'state=down' "$log" | sed 's/^/  agent: /' >&2; exit 1; }

mkdir "$mnt"
mount -t tmpfs -o size=2m linewatch-test "$mnt"
mounted=1
# Leave about 600 KiB for the database: full within seconds at 800 rows/s.
dd if=/dev/zero of="$mnt/filler" bs=1K count=1400 status=none

# Two free ports: one for the API, one nobody listens on (the probes' target).
read -r port closed < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
cat >"$work/linewatch.yaml" <<YAML
agent: { id: full-disk, listen: 127.0.0.1:$port, data_dir: $mnt/data }
storage: { flush_interval: 100ms, queue: 500, batch: 100 }
probes:
  tcp: { interval: 20ms, timeout: 10ms }
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

"$bin" run -c "$work/linewatch.yaml" >"$log" 2>&1 &
agent_pid=$!

status() { curl -sf --max-time 2 "http://127.0.0.1:$port/api/v1/status" >"$work/status.json"; }
# Prints one field of the status "storage" object.
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["storage"][sys.argv[2]])' \
  "$work/status.json" "$1"; }
# Waits up to $1 quarter-seconds for a line matching $2 in the log.
wait_log() {
  for _ in $(seq 1 "$1"); do
    grep -q "$2" "$log" && return 0
    kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
    sleep 0.25
  done
  return 1
}
failing_line='msg="storage failing" error="database or disk is full"'

wait_log 120 "$failing_line" || fail "no 'storage failing' line within 30 s"
status || fail "no status"
[ "$(field state)" = failing ] || fail "status state is $(field state), want failing"
stored_before=$(field written)
[ "$stored_before" -gt 0 ] || fail "nothing was stored before the disk filled"
field last_error | grep -q "database or disk is full" || fail "last_error: $(field last_error)"
[ -n "$(field since)" ] && [ "$(field queue)" -gt 0 ] || fail "since/queue missing: $(cat "$work/status.json")"
errors=$(field write_errors)

# Let it retry a few times: still one line.
for _ in $(seq 1 120); do
  status && [ "$(field write_errors)" -ge $((errors + 3)) ] && break
  sleep 0.25
done
[ "$(field write_errors)" -ge $((errors + 3)) ] || fail "no retries seen"
[ "$(field written)" -eq "$stored_before" ] || fail "rows were written while failing"
[ "$(grep -c "$failing_line" "$log")" -eq 1 ] || fail "want exactly one failing line"
echo "failing: $stored_before rows stored before, $(field write_errors) failed attempts, $(field dropped) dropped"

rm "$mnt/filler"
# Retries back off to 10 s at most.
wait_log 100 'msg="storage recovered"' || fail "no 'storage recovered' line within 25 s of freeing space"
recovered=$(grep 'msg="storage recovered"' "$log")
dropped=$(sed -n 's/.* rows_dropped=\([0-9]*\).*/\1/p' <<<"$recovered")
[ -n "$dropped" ] && [ "$dropped" -gt 0 ] || fail "recovery line without rows dropped: $recovered"
status || fail "no status after recovery"
[ "$(field state)" = ok ] || fail "status state is $(field state) after recovery"
echo "recovered: $recovered"

start=$(date +%s%N)
kill -TERM "$agent_pid"
code=0
wait "$agent_pid" || code=$?
agent_pid=""
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$code" -eq 0 ] || fail "agent exited $code on SIGTERM"
[ "$took_ms" -lt 5000 ] || fail "stop took ${took_ms} ms"
[ "$(grep -c "$failing_line" "$log")" -eq 1 ] || fail "want exactly one failing line in the whole run"
stopped=$(grep 'msg="stopped"' "$log") || fail "no stop line"
not_stored=$(sed -n 's/.* rows_not_stored=\([0-9]*\).*/\1/p' <<<"$stopped")
[ -n "$not_stored" ] && [ "$not_stored" -ge "$dropped" ] || fail "stop line: $stopped"
echo "stop: ${took_ms} ms: $stopped"

db=$mnt/data/linewatch.db
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
kept=$(sqlite3 "$db" "SELECT count(*) FROM samples WHERE id <= $stored_before")
[ "$kept" -eq "$stored_before" ] || fail "$kept of the $stored_before rows stored before the failure are left"
total=$(sqlite3 "$db" "SELECT count(*) FROM samples")
echo "storage full disk: all checks passed ($total rows in the database)"
