#!/usr/bin/env bash
# 2,000 ICMP targets on loopback (127.0.x.y, all answered by this host's own
# stack), one echo each every second, for 10 s through a running agent: the
# round engine keeps up (no overruns, no missed slots, no late or dropped
# replies, no warning) and every round reaches SQLite. Loopback only; the
# agent is ended by its PID.
set -euo pipefail
bin=${1:?usage: engine_load_test.sh PATH/TO/linewatch}
work=$(mktemp -d /tmp/linewatch-load.XXXXXX)
agent_pid=""
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then kill "$agent_pid"; wait "$agent_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/agent.log" ] && tail -20 "$work/agent.log" | sed 's/^/  agent: /' >&2; exit 1; }

targets=2000
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  echo "agent: { id: load, listen: 127.0.0.1:$port, data_dir: data }"
  echo "storage: { flush_interval: 100ms }"
  echo "probes:"
  echo "  icmp: { interval: 1s, timeout: 500ms, pings: 1 }"
  echo "lines:"
  echo "  - { id: lo, source: 127.0.0.1 }"
  echo "targets:"
  # 127.0.x.y with y in 1..250: no address ends in .0 or .255.
  for ((i = 0; i < targets; i++)); do
    echo "  - { id: t$i, icmp: 127.0.$((i / 250)).$((i % 250 + 1)) }"
  done
} >"$work/linewatch.yaml"

cd "$work"
"$bin" run -c linewatch.yaml >agent.log 2>&1 &
agent_pid=$!
# Up to 5 s for the API, then 10 s of probing.
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/api/v1/status" >/dev/null 2>&1 && break
  kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
  sleep 0.1
done
sleep 10
curl -sf "http://127.0.0.1:$port/api/v1/status" >status.json || fail "no status"
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "agent exited non-zero on SIGTERM"
agent_pid=""
rows=$(sqlite3 data/linewatch.db "SELECT count(*) FROM samples")
ok_rows=$(sqlite3 data/linewatch.db "SELECT count(*) FROM samples WHERE ok = 1")

python3 - status.json "$targets" "$rows" "$ok_rows" <<'PY' || fail "the engine did not keep up"
import json, sys
doc = json.load(open(sys.argv[1]))
targets, rows, ok_rows = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s, e, st = doc["scheduler"], doc["engine"], doc["storage"]
print(f"scheduler: {s}\nengine: {e}\nrows stored: {rows} ({ok_rows} ok)")
assert s["overruns"] == 0 and s["missed"] == 0, s
assert s["rounds"] >= 8 * targets, f"only {s['rounds']} rounds in 10 s"
assert e["running"] and e["icmp_sockets"] == 1, e
assert e["late_replies"] == 0 and e["overflow_drops"] == 0 and e["send_errors"] == 0, e
# One echo a round: every echo was answered, or its round is still running.
assert e["echoes_sent"] - e["replies"] <= e["rounds_in_flight"], e
assert st["dropped"] == 0 and st["lost"] == 0 and st["write_errors"] == 0, st
assert st["fold_errors"] == 0 and st["last_fold_error"] == "", st
assert doc["warnings"] == [], doc["warnings"]
# The heap trimmer ran (2 s after start) and the resident size is reported.
m = doc["memory"]
assert m["rss_bytes"] > 0 and m["heap_trims"] >= 1, m
# Every round started by the status read ended (stop waits for rounds in
# flight) and was stored; rounds after it only add rows.
assert rows >= s["rounds"], f"{rows} rows stored for {s['rounds']} rounds"
assert ok_rows == rows, f"{rows - ok_rows} rounds failed on loopback"
PY
echo "engine load: all checks passed"
