#!/usr/bin/env bash
# The failover's "explain" and "restart" promises, end to end on loopback:
# `linewatch routes` shows the plan in force, `linewatch events` the stored
# plan_new that made it, and after SIGTERM and a restart with the same health
# the version neither drops nor grows (the plan and its version come back
# from storage). No `apply:`, so the host's routes are never touched; echoes
# and probes go to 127.0.0.1 only.
set -euo pipefail
bin=$(realpath "${1:?usage: failover_cli_test.sh PATH/TO/linewatch}")
work=$(mktemp -d /tmp/linewatch-focli.XXXXXX)
agent_pid=""
stop_agent() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"
    for _ in $(seq 1 50); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$agent_pid" 2>/dev/null && kill -KILL "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
  fi
  agent_pid=""
}
trap 'stop_agent; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do [ -f "$f" ] && { echo "== $f"; cat "$f"; } >&2; done; exit 1; }
# shellcheck source=support/e2e_lib.sh
source "$(dirname "$0")/support/e2e_lib.sh"
api=$(free_port)
closed=$(free_port)
url="http://127.0.0.1:$api"
# One line per route: the plan depends only on which lines are up, not on
# loopback's RTT noise, so "health unchanged" means "plan unchanged".
cat >"$work/fo.yaml" <<YAML
agent: { id: fo-test, listen: 127.0.0.1:$api, data_dir: data }
lines:
  - { id: l1, source: 127.0.0.1, gateway: 127.0.0.11 }
  - { id: l2, source: 127.0.0.2, gateway: 127.0.0.12 }
targets:
  - { id: refl, icmp: { host: 127.0.0.1, interval: 5s } }
liveness: { interval: 20ms, detect: 200ms }
routes:
  - { prefix: 198.19.1.0/24, lines: [l1] }
  - { prefix: 198.19.2.0/24, lines: [l2] }
gateways:
  - { id: hook, exec: $work/on-plan.sh, timeout: 2s }
YAML
# An exec gateway: the plan arrives on stdin, its version in the environment.
cat >"$work/on-plan.sh" <<SH
#!/bin/sh
cat >"$work/pushed.json"
echo "\$LINEWATCH_PLAN_VERSION" >"$work/pushed.version"
SH
chmod +x "$work/on-plan.sh"

start_agent() {  # start_agent LOG: runs the agent and waits for its API
  "$bin" run -c "$work/fo.yaml" >"$work/$1" 2>&1 &
  agent_pid=$!
  for _ in $(seq 1 100); do grep -q 'msg="started"' "$work/$1" && return 0; sleep 0.1; done
  fail "agent did not start"
}
# routes_field EXPR: a Python expression over the /api/v1/routes document `d`.
routes_field() {
  "$bin" routes --agent "$url" --json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
plan_new_count() {
  "$bin" events --agent "$url" --kind plan_new --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))'
}

# Nothing listening: exit 2, naming the URL, for both commands.
expect 2 "no agent answering at http://127.0.0.1:$closed" "$bin" routes --agent "http://127.0.0.1:$closed"
expect 2 "no agent answering at http://127.0.0.1:$closed" "$bin" events --agent "http://127.0.0.1:$closed"
expect 2 "limit: 0 not in range|--limit" "$bin" events --agent "$url" --limit 0

cd "$work"
start_agent run1.log
version=0
for _ in $(seq 1 100); do  # the first plan waits for evidence on both lines
  version=$(routes_field 'd["plan"]["version"]')
  [ "$version" -ge 1 ] && break
  sleep 0.1
done
[ "$version" -ge 1 ] || fail "no plan within 10s"
expect 0 "^agent fo-test  plan v$version made " "$bin" routes --agent "$url"
expect 0 "198\.19\.1\.0/24 +l1 +127\.0\.0\.11 +- +1 +up" "$bin" routes -c "$work/fo.yaml"
expect 0 "198\.19\.2\.0/24 +l2 +127\.0\.0\.12 +- +1 +up" "$bin" routes --agent "$url"
expect 0 "local apply: off" "$bin" routes --agent "$url"
# The exec gateway got the plan: the JSON on stdin, the version in its env.
for _ in $(seq 1 50); do [ -s "$work/pushed.version" ] && break; sleep 0.1; done
[ "$(cat "$work/pushed.version" 2>/dev/null)" = "$version" ] || fail "the exec gateway did not get v$version"
python3 -c "import json,sys; d=json.load(open('$work/pushed.json')); sys.exit(0 if d['version'] == $version and d['agent'] == 'fo-test' else 1)" ||
  fail "the exec gateway's stdin is not plan v$version: $(head -c 300 "$work/pushed.json")"
for _ in $(seq 1 50); do [ "$(routes_field 'd["gateways"][0]["state"]')" = ok ] && break; sleep 0.1; done
[ "$(routes_field 'd["gateways"][0]["version"]')" = "$version" ] || fail "routes does not show hook at v$version"
expect 0 "hook +exec +ok +$version +- +-" "$bin" routes --agent "$url"
# The plan_new is stored (the writer commits within its batch interval).
for _ in $(seq 1 50); do [ "$(plan_new_count)" -ge 1 ] && break; sleep 0.1; done
expect 0 "plan_new +- +- +route_changed +version $version; " "$bin" events --agent "$url"
expect 0 "plan_new" "$bin" events --agent "$url" --since 1h --kind plan_new --limit 5
expect 0 "^0 events" "$bin" events --agent "$url" --line no-such-line
expect 2 'refused the query: since: not an RFC 3339 time' "$bin" events --agent "$url" --since yesterday
python3 - "$url" <<'PY' || fail "a bad events parameter is not a 400 naming it"
import json, sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1] + "/api/v1/events?limit=5000", timeout=5)
    sys.exit("accepted limit=5000")
except urllib.error.HTTPError as e:
    body = json.load(e)
    assert e.code == 400 and body["parameter"] == "limit", (e.code, body)
PY
before=$(plan_new_count)

stop_agent
start_agent run2.log
# The restart keeps the saved plan while it waits for evidence on every line;
# once that is in, the same health must give the same plan: no new version.
for _ in $(seq 1 100); do
  [ "$(routes_field 'd["plan"]["starting"]')" = "False" ] && break
  sleep 0.1
done
[ "$(routes_field 'd["plan"]["starting"]')" = "False" ] || fail "still starting after 10s"
sleep 3
after_version=$(routes_field 'd["plan"]["version"]')
[ "$after_version" -eq "$version" ] || fail "version $version before the restart, $after_version after"
[ "$(plan_new_count)" -eq "$before" ] || fail "a restart with unchanged health made a plan_new"
grep -q "event=plan_new" "$work/run2.log" && fail "the restarted agent logged a plan_new"
grep -q "agent state" "$work/run2.log" && fail "the saved plan state was not readable"
stop_agent

# Without routes there is no failover: routes says so and exits 0.
cat >"$work/plain.yaml" <<YAML
agent: { id: plain, listen: 127.0.0.1:$api, data_dir: data2 }
lines: [ { id: lo, source: 127.0.0.1 } ]
targets: [ { id: me, icmp: { host: 127.0.0.1, interval: 5s } } ]
YAML
"$bin" run -c "$work/plain.yaml" >"$work/run3.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do grep -q 'msg="started"' "$work/run3.log" && break; sleep 0.1; done
expect 0 "agent plain: failover is off \(no routes configured\)" "$bin" routes --agent "$url"
expect 0 "^0 events" "$bin" events --agent "$url"
echo "ok: plan v$version kept across a restart, $before plan_new event(s)"
