#!/usr/bin/env bash
# `linewatch history` end to end: an agent on loopback probes two targets;
# history answers through the agent's /api/v1/series, then, with the agent
# stopped, from its database file read-only, and the JSON (and the table) of
# both are byte for byte the same. Also: a refused query, no database.
set -euo pipefail
bin=${1:?usage: history_e2e_test.sh PATH/TO/linewatch}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linewatch-history.XXXXXX)
agent_pid=""
fail() { echo "FAIL: $*" >&2; [ -f "$work/agent.log" ] && sed 's/^/  agent: /' "$work/agent.log" >&2; exit 1; }
source "$src/tests/support/e2e_lib.sh"
cleanup() { stop_pid "$agent_pid"; rm -rf "$work"; }
trap cleanup EXIT

port=$(free_port)
cat >"$work/linewatch.yaml" <<YAML
agent: { id: history, listen: 127.0.0.1:$port, data_dir: data }
storage: { flush_interval: 100ms }
lines: [ { id: lo, source: 127.0.0.1 } ]
targets:
  - { id: me, icmp: { host: 127.0.0.1, pings: 3, spacing: 10ms, timeout: 200ms, interval: 1s } }
  - { id: api, tcp: { host: 127.0.0.1, port: $port, interval: 1s, timeout: 200ms } }
YAML
cfg=$work/linewatch.yaml
t0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$bin" run -c "$cfg" >"$work/agent.log" 2>&1 &
agent_pid=$!

# At least four rounds of each target through the API; bounded at 20 s.
ok=""
for _ in $(seq 1 80); do
  sleep 0.25
  kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
  if "$bin" history lo -c "$cfg" --since "$t0" --json >"$work/poll.json" 2>/dev/null &&
     python3 - "$work/poll.json" <<'PY'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if len(docs) == 2 and all(sum(p["rounds"] for p in d["points"]) >= 4 for d in docs) else 1)
PY
  then ok=1; break; fi
done
[ -n "$ok" ] || fail "history never showed 4 rounds of each target: $(cat "$work/poll.json")"

# A closed range ending a second ago, then time for its last rounds to commit.
t1=$(date -u -d '-1 second' +%Y-%m-%dT%H:%M:%SZ)
sleep 1.5
range=(--since "$t0" --until "$t1" --step 1s)
"$bin" history lo me -c "$cfg" "${range[@]}" --json >"$work/api.json" 2>"$work/api.err" ||
  fail "history via the agent: $(cat "$work/api.err")"
"$bin" history lo -c "$cfg" "${range[@]}" >"$work/api.txt" 2>/dev/null || fail "history table via the agent"
grep -qx "linewatch: asking the agent at http://127.0.0.1:$port" "$work/api.err" ||
  fail "no note of the agent as the source: $(cat "$work/api.err")"
python3 - "$work/api.json" "$t0" "$t1" <<'PY' || fail "the API's document is wrong: $(cat "$work/api.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["line"], d["target"], d["kind"]) == ("lo", "me", "icmp"), d
assert (d["from"], d["to"], d["step_s"]) == (sys.argv[2], sys.argv[3], 1), d
assert len(d["points"]) >= 3, d
for p in d["points"]:
    assert p["rounds"] == 1 and p["ok"] == 1 and p["sent"] == 3 and p["lost"] == 0, p
    r = p["rtt_ms"]
    assert 0 < r["min"] <= r["p10"] <= r["median"] <= r["p90"] <= r["max"], p
PY
expect 2 "step: must be at least 1s, got \"0s\"" "$bin" history lo me -c "$cfg" --step 0s

stop_pid "$agent_pid"
agent_pid=""

"$bin" history lo me -c "$cfg" "${range[@]}" --json >"$work/db.json" 2>"$work/db.err" ||
  fail "history from the database: $(cat "$work/db.err")"
"$bin" history lo -c "$cfg" "${range[@]}" >"$work/db.txt" 2>/dev/null || fail "history table from the database"
grep -qx "linewatch: reading $work/data/linewatch.db (no agent at http://127.0.0.1:$port)" \
  "$work/db.err" || fail "no note of the database as the source: $(cat "$work/db.err")"
cmp "$work/api.json" "$work/db.json" || fail "JSON differs: agent $(cat "$work/api.json") file $(cat "$work/db.json")"
cmp "$work/api.txt" "$work/db.txt" || fail "tables differ: $(diff "$work/api.txt" "$work/db.txt")"
grep -q "^lo -> api (tcp)" "$work/db.txt" || fail "the table lacks the tcp target: $(cat "$work/db.txt")"

# Without a config: the stored series of the line, the file from --data-dir.
"$bin" history lo --data-dir "$work/data" --agent "http://127.0.0.1:$port" "${range[@]}" --json \
  >"$work/stored.json" 2>/dev/null || fail "history without a config"
[ "$(wc -l <"$work/stored.json")" -eq 2 ] || fail "want 2 stored series: $(cat "$work/stored.json")"
grep -qxF "$(cat "$work/api.json")" "$work/stored.json" || fail "lo/me differs without a config"
expect 2 "no agent answering at http://127.0.0.1:$port, and no database to read: $work/none/linewatch.db: no such database" \
  "$bin" history lo --data-dir "$work/none" --agent "http://127.0.0.1:$port"
[ ! -e "$work/none" ] || fail "history created $work/none"
echo "PASS"
