#!/usr/bin/env bash
# End to end: `linewatch run` on a temporary config and data dir, two lines
# bound to different loopback addresses, ICMP + TCP + HTTP targets (the agent's
# own API port serves as the TCP and HTTP target). Waits for three rounds,
# then checks `linewatch status --json` shows every line × target × kind, that
# SQLite holds the rows, that a query against a stopped agent fails clearly,
# and that SIGTERM stops the agent within a second.
set -euo pipefail
bin=${1:?usage: e2e_run.sh PATH/TO/linewatch}
work=$(mktemp -d /tmp/linewatch-e2e.XXXXXX)
agent_pid=""
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then kill "$agent_pid"; wait "$agent_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/agent.log" ] && sed 's/^/  agent: /' "$work/agent.log" >&2; exit 1; }

# A free port: bind to 0 and let the kernel choose.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/linewatch.yaml" <<YAML
agent: { id: e2e, listen: 127.0.0.1:$port, data_dir: data }
storage: { flush_interval: 100ms }
probes:
  icmp: { interval: 1s, timeout: 200ms, pings: 3, spacing: 50ms }
  tcp: { interval: 1s, timeout: 500ms }
  http: { interval: 1s, timeout: 500ms }
lines:
  - { id: lo-a, source: 127.0.0.1 }
  - { id: lo-b, source: 127.0.0.2 }
targets:
  - { id: loop-icmp, icmp: 127.0.0.1 }
  - { id: agent-api, tcp: "127.0.0.1:$port", http: "http://127.0.0.1:$port/-/healthy" }
YAML

"$bin" check-config "$work/linewatch.yaml" || fail "check-config rejected the e2e config"
"$bin" run -c "$work/linewatch.yaml" >"$work/agent.log" 2>&1 &
agent_pid=$!

# Three rounds at 1 s, plus start-up; bounded at 15 s.
ok=""
for _ in $(seq 1 60); do
  sleep 0.25
  kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
  if "$bin" status -c "$work/linewatch.yaml" --json >"$work/status.json" 2>/dev/null &&
     python3 - "$work/status.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
series = doc["series"]
want = {(l, t, k) for l in ("lo-a", "lo-b") for (t, k) in
        (("loop-icmp", "icmp"), ("agent-api", "tcp"), ("agent-api", "http"))}
got = {(s["line"], s["target"], s["kind"]) for s in series}
rounds = min((s["window"]["rounds"] for s in series), default=0)
sys.exit(0 if got == want and rounds >= 3 else 1)
PY
  then ok=1; break; fi
done
[ -n "$ok" ] || { cat "$work/status.json" >&2 || true; fail "status never showed 6 series with 3 rounds each"; }

python3 - "$work/status.json" <<'PY' || fail "status figures are wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
for s in doc["series"]:
    latest, win = s["latest"], s["window"]
    name = f'{s["line"]}/{s["target"]}/{s["kind"]}'
    assert latest["ok"], f"{name}: latest round failed: {latest}"
    assert win["availability"] == 1.0, f"{name}: availability {win['availability']}"
    assert 0 < win["rtt_median_ms"] < 50, f"{name}: median {win.get('rtt_median_ms')}"
    if s["kind"] == "icmp":
        assert latest["sent"] == 3 and latest["received"] == 3, f"{name}: {latest}"
    if s["kind"] == "http":
        assert latest["http_status"] == 200, f"{name}: {latest}"
print("status: 6 series ok")
PY

# The table form names every line and target.
"$bin" status -c "$work/linewatch.yaml" >"$work/status.txt" || fail "status table failed"
for w in LINE lo-a lo-b loop-icmp agent-api; do grep -q "$w" "$work/status.txt" || fail "table lacks $w"; done

# SIGTERM: stopped within a second, storage flushed.
start=$(date +%s%N)
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "agent exited non-zero on SIGTERM"
agent_pid=""
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$took_ms" -lt 1000 ] || fail "stop took ${took_ms} ms"
echo "stop: ${took_ms} ms"

rows=$(sqlite3 "$work/data/linewatch.db" "SELECT count(*) FROM samples")
[ "$rows" -ge 18 ] || fail "only $rows rows stored"
series=$(sqlite3 "$work/data/linewatch.db" \
  "SELECT count(*) FROM (SELECT DISTINCT line_id, target_id, kind FROM samples)")
[ "$series" -eq 6 ] || fail "rows cover $series series, want 6"
[ "$(sqlite3 "$work/data/linewatch.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
echo "storage: $rows rows over $series series"

# A query with no agent running fails with a clear message and exit code 2.
set +e
msg=$("$bin" status -c "$work/linewatch.yaml" 2>&1); code=$?
set -e
[ "$code" -eq 2 ] || fail "status without agent exited $code"
echo "$msg" | grep -q "no agent answering at http://127.0.0.1:$port" || fail "unclear message: $msg"
echo "e2e: all checks passed"
