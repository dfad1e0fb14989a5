#!/usr/bin/env bash
# The HTTP API and the query commands against a running agent, end to end:
# every GET endpoint answers 200 with JSON that parses (text for /metrics and
# /-/healthy); bad parameters answer 400 {"error":...}; unknown paths 404
# JSON; 40 concurrent requests while the agent probes all succeed;
# `status` and `lines` exit 0 with every line up, 1 with a line down (its only
# target a closed loopback port) and 2 with no agent; `--watch --count 2`
# prints two tables and no escape codes into a pipe. Loopback only; each
# agent is ended by its PID.
set -euo pipefail
bin=$(realpath "${1:?usage: api_e2e_test.sh PATH/TO/linewatch}")
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linewatch-api.XXXXXX)
good_pid=""
bad_pid=""
fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log; do [ -f "$log" ] && sed "s|^|  $(basename "$log"): |" "$log" | tail -15 >&2; done
  exit 1
}
# shellcheck source=support/e2e_lib.sh
. "$src/tests/support/e2e_lib.sh"
cleanup() {
  stop_pid "$good_pid"
  stop_pid "$bad_pid"
  rm -rf "$work"
}
trap cleanup EXIT

# start_agent NAME CONFIG: runs the agent, its PID in $started, and waits
# (10 s at most) for /-/healthy.
started=""
start_agent() {
  "$bin" run -c "$2" >"$work/$1.log" 2>&1 &
  started=$!
  local port
  port=$(sed -n 's/.*listen: 127.0.0.1:\([0-9]*\).*/\1/p' "$2")
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/-/healthy" >/dev/null 2>&1 && return
    kill -0 "$started" 2>/dev/null || fail "agent $1 exited at start"
    sleep 0.1
  done
  fail "agent $1 did not answer /-/healthy within 10 s"
}

# wait_state URL LINE STATE: polls /api/v1/lines (15 s at most).
wait_state() {
  for _ in $(seq 1 150); do
    curl -sf "$1/api/v1/lines" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
sys.exit(0 if any(l["line"] == sys.argv[1] and l["state"] == sys.argv[2] for l in doc["lines"]) else 1)
' "$2" "$3" && return
    sleep 0.1
  done
  fail "line $2 never became $3: $(curl -s "$1/api/v1/lines")"
}

good_port=$(free_port)
bad_port=$(free_port)
closed=$(free_port)
good="http://127.0.0.1:$good_port"
bad="http://127.0.0.1:$bad_port"
# The good line's target is the agent's own API port: it always answers.
cat >"$work/good.yaml" <<YAML
agent: { id: good, listen: 127.0.0.1:$good_port, data_dir: good-data }
lines: [ { id: lo, source: 127.0.0.1 } ]
targets:
  - { id: api, tcp: { host: 127.0.0.1, port: $good_port, interval: 200ms, timeout: 200ms } }
  - { id: health, http: { url: "http://127.0.0.1:$good_port/-/healthy", interval: 500ms, timeout: 500ms } }
YAML
cat >"$work/bad.yaml" <<YAML
agent: { id: bad, listen: 127.0.0.1:$bad_port, data_dir: bad-data }
lines: [ { id: dead, source: 127.0.0.1 } ]
targets:
  - { id: closed, tcp: { host: 127.0.0.1, port: $closed, interval: 200ms, timeout: 200ms } }
YAML
cd "$work"
start_agent good "$work/good.yaml"
good_pid=$started
wait_state "$good" lo up

# Every GET endpoint: 200, JSON that parses (text for the two that are text).
paths=(/api/v1/status /api/v1/lines /api/v1/targets /api/v1/routes /api/v1/events
       "/api/v1/events?limit=5&line=lo" /api/v1/alerts "/api/v1/alerts/history?limit=5")
# /api/v1/series once the agent routes it.
if grep -q '"/api/v1/series"' "$src/agent/api_server.cc"; then
  paths+=("/api/v1/series?line=lo&target=api&since=1m")
fi
for p in "${paths[@]}"; do
  code=$(curl -s -o "$work/body" -w '%{http_code} %{content_type}' "$good$p")
  [ "$code" = "200 application/json" ] || fail "GET $p: $code $(cat "$work/body")"
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$work/body" || fail "GET $p: not JSON: $(cat "$work/body")"
done
[ "$(curl -s "$good/-/healthy")" = "OK" ] || fail "/-/healthy is not OK"
curl -s -o "$work/metrics" "$good/metrics"
grep -q '^linewatch_build_info' "$work/metrics" || fail "/metrics lacks linewatch_build_info"
python3 - "$good" <<'PY' || fail "lines or targets lack the documented fields"
import json, sys, urllib.request
get = lambda p: json.load(urllib.request.urlopen(sys.argv[1] + p, timeout=5))
lines = get("/api/v1/lines")
assert lines["agent"] == "good", lines
(lo,) = lines["lines"]
assert lo["state"] == "up" and lo["targets"] == 2 and lo["targets_ok"] >= 1, lo
for k in ("health", "score", "role", "rx_bps", "tx_bps", "utilisation", "capacity_bps"):
    assert k in lo, k
targets = get("/api/v1/targets")["targets"]
assert [t["target"] for t in targets] == ["api", "health"], targets
assert targets[0]["kinds"] == ["tcp"] and targets[0]["lines"] == ["lo"], targets
PY

# Bad parameters: 400 with {"error":...}; unknown paths: 404 JSON.
for p in "/api/v1/events?limit=0" "/api/v1/events?bogus=1" "/api/v1/events?since=yesterday" \
         "/api/v1/alerts?x=1" "/api/v1/alerts/history?kind=line_down" "/api/v1/lines?line=lo" \
         "/api/v1/targets?x"; do
  code=$(curl -s -o "$work/body" -w '%{http_code} %{content_type}' "$good$p")
  [ "$code" = "400 application/json" ] || fail "GET $p: $code, want 400 JSON"
  python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["error"]' "$work/body" ||
    fail "GET $p: no error message: $(cat "$work/body")"
done
for p in /api/v1/nope /nope /api/v2/status; do
  code=$(curl -s -o "$work/body" -w '%{http_code} %{content_type}' "$good$p")
  [ "$code" = "404 application/json" ] || fail "GET $p: $code, want 404 JSON"
  python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["error"]' "$work/body" ||
    fail "GET $p: $(cat "$work/body")"
done

# 40 concurrent requests while the agent probes (every 200 ms): all 200.
python3 - "$good" <<'PY' || fail "concurrent requests failed"
import concurrent.futures, json, sys, urllib.request
paths = ["/api/v1/status", "/api/v1/lines", "/api/v1/targets", "/api/v1/events",
         "/api/v1/alerts", "/api/v1/routes", "/api/v1/alerts/history", "/metrics"] * 5
def get(p):
    with urllib.request.urlopen(sys.argv[1] + p, timeout=10) as r:
        body = r.read()
        if p != "/metrics":
            json.loads(body)
        return r.status
with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
    codes = list(pool.map(get, paths))
assert len(codes) == 40 and set(codes) == {200}, codes
PY

# Exit codes with every line up; --watch into a pipe: two tables, no ESC.
expect 0 "lo +api +tcp +up" "$bin" status --agent "$good"
expect 0 "lo +up +- +- +- +2/2|lo +up +- +- +- +1/2" "$bin" lines --agent "$good"
expect 0 '"lines":\[' "$bin" lines --agent "$good" --json
"$bin" lines --agent "$good" --watch 200ms --count 2 >"$work/watch.out" 2>&1 || fail "watch exited $?"
[ "$(grep -c '^LINE ' "$work/watch.out")" = 2 ] || fail "watch --count 2 did not print two tables: $(cat "$work/watch.out")"
[ "$(grep -c '^every 200ms: linewatch lines' "$work/watch.out")" = 2 ] || fail "watch headers: $(cat "$work/watch.out")"
if grep -q $'\x1b' "$work/watch.out"; then fail "escape codes written into a pipe"; fi
"$bin" status --agent "$good" --watch 200ms --count 2 >"$work/watch.out" 2>&1 || fail "status watch exited $?"
[ "$(grep -c '^LINE  TARGET' "$work/watch.out")" = 2 ] || fail "status --watch --count 2: $(cat "$work/watch.out")"
for cmd in routes events alerts; do
  "$bin" "$cmd" --agent "$good" --watch 100ms --count 2 >"$work/watch.out" 2>&1 || fail "$cmd --watch exited $?"
  [ "$(grep -c "^every 100ms: linewatch $cmd" "$work/watch.out")" = 2 ] || fail "$cmd --watch: $(cat "$work/watch.out")"
done
"$bin" lines --agent "$good" --json --watch 100ms --count 2 >"$work/watch.out" || fail "lines --json --watch"
python3 -c '
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
assert len(docs) == 2 and all("lines" in d for d in docs), docs
' "$work/watch.out" || fail "--json --watch is not one document per line: $(cat "$work/watch.out")"

# A line whose only target is a closed port: down, exit 1.
start_agent bad "$work/bad.yaml"
bad_pid=$started
wait_state "$bad" dead down
expect 1 "lines down: dead" "$bin" status --agent "$bad"
expect 1 '"series":' "$bin" status --agent "$bad" --json
expect 1 "dead +DOWN" "$bin" lines --agent "$bad"
# No agent: 2, and --watch keeps trying, printing the error each time.
stop_pid "$bad_pid"
bad_pid=""
expect 2 "no agent answering at $bad" "$bin" status --agent "$bad"
expect 2 "no agent answering at $bad" "$bin" lines --agent "$bad"
set +e
"$bin" lines --agent "$bad" --watch 100ms --count 3 >"$work/watch.out" 2>"$work/watch.err"
code=$?
set -e
[ "$code" = 2 ] || fail "watch on a stopped agent exited $code, want 2"
[ "$(grep -c 'no agent answering' "$work/watch.err")" = 3 ] || fail "watch did not retry: $(cat "$work/watch.err")"
echo "PASS"
