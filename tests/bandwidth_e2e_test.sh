#!/usr/bin/env bash
# End to end: a line whose counters are lo's. `linewatch run` must show the
# line in /api/v1/status with a rate within a few seconds, `linewatch status`
# must print its bandwidth row, and line_bandwidth rows must land in SQLite.
# Traffic: the agent's own TCP probes and this script's status queries, all
# over 127.0.0.1.
set -euo pipefail
bin=${1:?usage: bandwidth_e2e_test.sh PATH/TO/linewatch}
work=$(mktemp -d /tmp/linewatch-bw.XXXXXX)
agent_pid=""
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then kill "$agent_pid"; wait "$agent_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/agent.log" ] && sed 's/^/  agent: /' "$work/agent.log" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/linewatch.yaml" <<YAML
agent: { id: bw, listen: 127.0.0.1:$port, data_dir: data }
storage: { flush_interval: 100ms }
probes:
  tcp: { interval: 1s, timeout: 500ms }
lines:
  - { id: lo, source: 127.0.0.1, counters: lo, capacity: 1Gbps }
  - { id: bare, source: 127.0.0.2 }
targets:
  - { id: agent-api, tcp: "127.0.0.1:$port" }
YAML

"$bin" check-config "$work/linewatch.yaml" >/dev/null || fail "check-config rejected the config"
"$bin" run -c "$work/linewatch.yaml" >"$work/agent.log" 2>&1 &
agent_pid=$!

# The first sample is a baseline; a rate needs the second, a second later.
# Bounded at 10 s.
ok=""
for _ in $(seq 1 40); do
  sleep 0.25
  kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
  if "$bin" status -c "$work/linewatch.yaml" --json >"$work/status.json" 2>/dev/null &&
     python3 - "$work/status.json" <<'PY'
import json, sys
lines = {l["line"]: l for l in json.load(open(sys.argv[1]))["lines"]}
lo = lines["lo"]
sys.exit(0 if lo["state"] == "measuring" and lo.get("rx_bps", 0) > 0 else 1)
PY
  then ok=1; break; fi
done
[ -n "$ok" ] || { cat "$work/status.json" >&2 || true; fail "line lo never showed a rate"; }

python3 - "$work/status.json" <<'PY' || fail "lines figures are wrong"
import json, sys
lines = {l["line"]: l for l in json.load(open(sys.argv[1]))["lines"]}
assert set(lines) == {"lo", "bare"}, lines
lo, bare = lines["lo"], lines["bare"]
assert lo["interface"] == "lo" and lo["from"] == "counters", lo
assert lo["capacity_bps"] == 10**9, lo
assert lo["tx_bps"] > 0 and "since" in lo, lo
assert abs(lo["utilisation"] - max(lo["rx_bps"], lo["tx_bps"]) / 1e9) < 1e-9, lo
assert bare["state"] == "none" and bare["interface"] is None, bare
assert "lines[].counters" in bare["detail"], bare
print(f'lines: lo rx {lo["rx_bps"]:.0f} bps, tx {lo["tx_bps"]:.0f} bps, util {lo["utilisation"]:.2e}')
PY
grep -q 'line=bare msg="bandwidth not measured' "$work/agent.log" || fail "no log line for the bare line"

"$bin" status -c "$work/linewatch.yaml" >"$work/status.txt" || fail "status table failed"
grep -Eq '^LINE +IFACE +RX +TX +UTIL' "$work/status.txt" || fail "table lacks the bandwidth block"
grep -Eq '^lo +lo +[0-9.]+[kMG]?bps +[0-9.]+[kMG]?bps +[0-9.]+%' "$work/status.txt" ||
  { cat "$work/status.txt" >&2; fail "table lacks lo's rates"; }

kill -TERM "$agent_pid"
wait "$agent_pid" || fail "agent exited non-zero on SIGTERM"
agent_pid=""

db="$work/data/linewatch.db"
rows=$(sqlite3 "$db" "SELECT count(*) FROM line_bandwidth b JOIN lines l ON l.id = b.line_id
                      WHERE l.name = 'lo' AND b.rx_bps > 0 AND b.utilisation > 0")
[ "$rows" -ge 1 ] || fail "no line_bandwidth rows for lo"
others=$(sqlite3 "$db" "SELECT count(*) FROM line_bandwidth b JOIN lines l ON l.id = b.line_id
                        WHERE l.name <> 'lo'")
[ "$others" -eq 0 ] || fail "$others line_bandwidth rows for lines without counters"
echo "storage: $rows line_bandwidth rows for lo"
echo "bandwidth e2e: all checks passed"
